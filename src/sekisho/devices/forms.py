from __future__ import annotations

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Device, DeviceKind, Medium, MediumKind


class DeviceForm(forms.Form):
    name = forms.CharField(label=_("端末名（ホスト名）"), max_length=100)
    kind = forms.ChoiceField(label=_("種別"), choices=DeviceKind.choices)
    os = forms.ChoiceField(label=_("OS"), choices=Device.OS.choices)
    os_version = forms.CharField(label=_("OSのバージョン"), max_length=100, required=False)
    asset_tag = forms.CharField(label=_("資産番号"), max_length=50, required=False)
    serial_number = forms.CharField(label=_("製造番号"), max_length=100, required=False)
    disk_encryption = forms.CharField(label=_("ディスク暗号化（製品名）"), max_length=100, required=False)
    antivirus = forms.CharField(label=_("ウイルス対策ソフト・EDR（製品名）"), max_length=100, required=False)
    owner = forms.ChoiceField(label=_("使用者"), required=False)

    def __init__(self, *args: object, owners: list[tuple[str, str]] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if owners:
            cast(forms.ChoiceField, self.fields["owner"]).choices = owners
        else:
            del self.fields["owner"]


class ApproveForm(forms.Form):
    approved_until = forms.DateField(
        label=_("承認期限"), widget=forms.DateInput(attrs={"type": "date"}), input_formats=["%Y-%m-%d"]
    )
    note = forms.CharField(label=_("備考"), max_length=500, required=False)


class PosturePolicyForm(forms.Form):
    require_disk_encryption = forms.BooleanField(label=_("ディスク暗号化を必須とする"), required=False)
    require_antivirus = forms.BooleanField(label=_("ウイルス対策ソフト（EDR）を必須とする"), required=False)
    max_definitions_age_days = forms.IntegerField(
        label=_("ウイルス定義の許容日数"), min_value=1, max_value=90
    )
    max_os_update_age_days = forms.IntegerField(label=_("OS更新の許容日数"), min_value=1, max_value=365)
    require_firewall = forms.BooleanField(label=_("ファイアウォールを必須とする"), required=False)
    max_screen_lock_minutes = forms.IntegerField(
        label=_("画面ロックまでの上限（分）"), min_value=1, max_value=120
    )
    max_report_age_hours = forms.IntegerField(label=_("姿勢報告の有効時間"), min_value=1, max_value=168)


class MediumForm(forms.Form):
    label = forms.CharField(label=_("管理名"), max_length=100)
    kind = forms.ChoiceField(label=_("種別"), choices=MediumKind.choices)
    security_function = forms.ChoiceField(
        label=_("セキュリティ機能"), choices=Medium.SecurityFunction.choices
    )
    serial_number = forms.CharField(label=_("製造番号"), max_length=100)
    product = forms.CharField(label=_("製品名"), max_length=150, required=False)
    capacity_gb = forms.IntegerField(label=_("容量（GB）"), min_value=1, max_value=1_000_000, required=False)


class CustodyForm(forms.Form):
    custodian = forms.ChoiceField(label=_("新しい保管者"))
    note = forms.CharField(label=_("備考"), max_length=500, required=False)

    def __init__(self, *args: object, people: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        cast(forms.ChoiceField, self.fields["custodian"]).choices = people
