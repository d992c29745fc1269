"""Browser forms of the oversight pages. They parse what was typed; the rules, with their messages and clauses,
are the services', so the browser and the API refuse the same things with the same words."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sekisho.incidents.forms import DateInput, DateTimeLocalInput

from .common import MAX_TEXT
from .models import ItemResult


def _area(rows: int = 4) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class ReportRequestForm(forms.Form):
    subject = forms.CharField(label=_("件名"), max_length=200)
    detail = forms.CharField(
        label=_("求める報告の内容"),
        widget=_area(6),
        max_length=MAX_TEXT,
        help_text=_("報告を求める事項、対象の期間、添付してほしい資料などを具体的に記入してください。"),
    )
    due_on = forms.DateField(
        label=_("報告期限"),
        widget=DateInput(),
        help_text=_("閉庁日（土日・祝日・年末年始）の場合、期限は翌開庁日になります。"),
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AnswerForm(forms.Form):
    text = forms.CharField(label=_("報告内容"), widget=_area(8), max_length=MAX_TEXT)
    attachments = forms.FileField(
        label=_("添付ファイル"),
        required=False,
        widget=MultipleFileInput(),
        help_text=_("複数選択できます。添付ファイルは保管庫と同じ方式で暗号化して保存されます。"),
    )


class AcceptForm(forms.Form):
    note = forms.CharField(label=_("所見（任意）"), widget=_area(3), max_length=MAX_TEXT, required=False)


class MoreForm(forms.Form):
    note = forms.CharField(label=_("追加で求める事項"), widget=_area(4), max_length=MAX_TEXT)
    due_on = forms.DateField(label=_("新しい報告期限"), widget=DateInput())


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("取下げの理由"), max_length=MAX_TEXT)


class InspectionForm(forms.Form):
    title = forms.CharField(label=_("検査名"), max_length=200)
    scheduled_on = forms.DateField(label=_("実施予定日"), widget=DateInput())
    place = forms.CharField(label=_("実施場所"), max_length=200, required=False)
    scope = forms.CharField(label=_("検査の範囲・方法"), widget=_area(3), max_length=MAX_TEXT, required=False)


class ItemForm(forms.Form):
    result = forms.ChoiceField(label=_("結果"), choices=ItemResult.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("所見"),
        widget=_area(2),
        max_length=MAX_TEXT,
        required=False,
        help_text=_("「指摘」の場合は必須です。"),
    )


class FindingForm(forms.Form):
    description = forms.CharField(label=_("指摘事項"), widget=_area(3), max_length=MAX_TEXT)
    corrective_request = forms.CharField(label=_("是正要求"), widget=_area(3), max_length=MAX_TEXT)
    due_on = forms.DateField(label=_("是正期限"), widget=DateInput())


class CompleteForm(forms.Form):
    summary = forms.CharField(label=_("総評（任意）"), widget=_area(3), max_length=MAX_TEXT, required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("中止の理由"), max_length=MAX_TEXT)


class ResponseForm(forms.Form):
    response = forms.CharField(label=_("是正の内容"), widget=_area(4), max_length=MAX_TEXT)


class CloseFindingForm(forms.Form):
    note = forms.CharField(
        label=_("確認の所見（任意）"), widget=_area(2), max_length=MAX_TEXT, required=False
    )


class ReopenForm(forms.Form):
    instruction = forms.CharField(label=_("再度の是正要求の内容"), widget=_area(3), max_length=MAX_TEXT)
    due_on = forms.DateField(label=_("新しい是正期限"), widget=DateInput())


class GrantForm(forms.Form):
    user = forms.TypedChoiceField(label=_("検査員"), coerce=int)
    expires_at = forms.DateTimeField(
        label=_("閲覧できる期限（この日時に終了）"),
        widget=DateTimeLocalInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args: Any, users: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [(u.pk, f"{u} ({u.username})") for u in users]  # type: ignore[attr-defined]
