"""Browser forms of the people pages. They only check shapes; the rules are in the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sekisho.core.models import Role

from .models import AppointmentKind, LeavingKind, SessionMethod, StaffCategory


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class RosterForm(forms.Form):
    name = forms.CharField(label=_("氏名"), max_length=100)
    name_kana = forms.CharField(label=_("ふりがな"), max_length=100, required=False)
    organisation = forms.TypedChoiceField(label=_("所属組織"), coerce=int)
    category = forms.ChoiceField(label=_("区分"), choices=StaffCategory.choices)
    department = forms.CharField(label=_("所属部署"), max_length=200, required=False)
    position = forms.CharField(label=_("役職"), max_length=100, required=False)
    contact = forms.CharField(label=_("連絡先"), max_length=200, required=False)
    started_on = forms.DateField(label=_("従事開始日"), widget=DateInput)
    username = forms.ChoiceField(label=_("利用者（ログインする者のみ）"), required=False)

    def __init__(
        self, *args: Any, organisations: list[tuple[int, str]], users: list[tuple[str, str]], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].choices = organisations  # type: ignore[attr-defined]
        self.fields["username"].choices = [("", _("（ログインしない）")), *users]  # type: ignore[attr-defined]


class LeavingForm(forms.Form):
    left_at = forms.DateTimeField(label=_("離任・退職日時"), widget=DateTimeInput)
    kind = forms.ChoiceField(label=_("離任の区分"), choices=LeavingKind.choices)
    note = forms.CharField(label=_("理由・備考"), max_length=500, required=False)
    exit_ack_name = forms.CharField(
        label=_("本人の署名（退職後の義務を確認した氏名）"), max_length=100, required=False
    )


class TypedNameForm(forms.Form):
    typed_name = forms.CharField(
        label=_("署名（氏名を入力）"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )


class AcknowledgeForm(TypedNameForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


ROLE_CHOICES = [(r.value, r.label) for r in Role]


class ProgrammeForm(forms.Form):
    code = forms.SlugField(label=_("コード（英数字）"), max_length=50)
    title = forms.CharField(label=_("研修名"), max_length=200)
    content = forms.CharField(label=_("内容"), widget=forms.Textarea(attrs={"rows": 12}))
    required_roles = forms.MultipleChoiceField(
        label=_("受講が必要な役割"), choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    recurrence_months = forms.IntegerField(
        label=_("再受講の間隔（月、0は1回のみ）"), min_value=0, max_value=60
    )
    reminder_days = forms.IntegerField(label=_("期限前の通知（日前）"), min_value=0, max_value=365)


class ConfigureForm(forms.Form):
    required_roles = forms.MultipleChoiceField(
        label=_("受講が必要な役割"), choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    recurrence_months = forms.IntegerField(
        label=_("再受講の間隔（月、0は1回のみ）"), min_value=0, max_value=60
    )
    reminder_days = forms.IntegerField(label=_("期限前の通知（日前）"), min_value=0, max_value=365)
    active = forms.BooleanField(label=_("有効"), required=False)


class VersionForm(forms.Form):
    content = forms.CharField(label=_("新しい版の内容"), widget=forms.Textarea(attrs={"rows": 12}))


class SessionForm(forms.Form):
    held_at = forms.DateTimeField(label=_("実施日時"), widget=DateTimeInput)
    method = forms.ChoiceField(label=_("実施方法"), choices=SessionMethod.choices)
    instructor = forms.CharField(label=_("講師"), max_length=100)
    place = forms.CharField(label=_("場所"), max_length=200, required=False)
    note = forms.CharField(label=_("備考"), max_length=500, required=False)


class AppointForm(forms.Form):
    kind = forms.ChoiceField(label=_("種別"), choices=AppointmentKind.choices)
    entry = forms.TypedChoiceField(label=_("選任する者"), coerce=int)

    def __init__(self, *args: Any, entries: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["entry"].choices = entries  # type: ignore[attr-defined]


class PledgeForm(TypedNameForm):
    addressee = forms.CharField(label=_("宛先（発注者）"), max_length=200)
    representative = forms.CharField(label=_("代表者（役職・氏名）"), max_length=200)
    seal_box = forms.BooleanField(label=_("押印欄を設ける"), required=False)


class SubcontractForm(forms.Form):
    organisation = forms.TypedChoiceField(
        label=_("再委託先・下請負者"), coerce=int, required=False, empty_value=None
    )
    new_organisation = forms.CharField(
        label=_("一覧にない場合：新しい再委託先・下請負者の名称"), max_length=200, required=False
    )
    scope = forms.CharField(label=_("再委託する業務の範囲"), widget=forms.Textarea(attrs={"rows": 3}))
    responsible_name = forms.CharField(label=_("再委託先の責任者（氏名）"), max_length=100)
    responsible_title = forms.CharField(label=_("責任者の役職"), max_length=100, required=False)
    reason = forms.CharField(label=_("再委託の理由"), widget=forms.Textarea(attrs={"rows": 2}))
    valid_from = forms.DateField(label=_("期間（始期）"), widget=DateInput)
    valid_until = forms.DateField(label=_("期間（終期）"), widget=DateInput)
    personal_info = forms.BooleanField(
        label=_("個人情報を取り扱わせる（発注者の別の承諾が必要：個人情報取扱特記事項第8）"), required=False
    )

    def __init__(self, *args: Any, organisations: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].choices = [  # type: ignore[attr-defined]
            ("", _("（一覧から選ぶか、下に名称を入力）")),
            *organisations,
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("organisation") is None) == (not data.get("new_organisation", "").strip()):
            raise forms.ValidationError(
                _(
                    "再委託先・下請負者を一覧から選ぶか、新しい再委託先の名称を入力してください（どちらか一方）。"
                )
            )
        return data


class PersonalInfoConsentForm(forms.Form):
    reason = forms.CharField(label=_("個人情報を取り扱わせる理由"), widget=forms.Textarea(attrs={"rows": 2}))
    valid_from = forms.DateField(label=_("期間（始期）"), widget=DateInput)
    valid_until = forms.DateField(label=_("期間（終期）"), widget=DateInput)
