"""Browser forms of compliance: loading a profile (a shipped one, an uploaded file or pasted text)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .profile import MAX_PROFILE_BYTES, shipped_profile_names


class ProfileForm(forms.Form):
    shipped = forms.ChoiceField(label=_("同梱の規定から選ぶ"), required=False)
    file = forms.FileField(label=_("TOMLファイルを読み込む"), required=False)
    content = forms.CharField(
        label=_("TOMLを貼り付ける"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        max_length=MAX_PROFILE_BYTES,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shipped = self.fields["shipped"]
        assert isinstance(shipped, forms.ChoiceField)
        shipped.choices = [("", "—"), *((n, n) for n in shipped_profile_names())]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        given = [name for name in ("shipped", "file", "content") if data.get(name)]
        if len(given) != 1:
            raise forms.ValidationError(_("同梱の規定、ファイル、貼り付けのいずれか一つを指定してください。"))
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_PROFILE_BYTES:
                raise forms.ValidationError(_("ファイルが大きすぎます。"))
            try:
                data["text"] = upload.read().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError(_("ファイルはUTF-8のTOMLで指定してください。")) from exc
        elif data.get("content"):
            data["text"] = data["content"]
        return data
