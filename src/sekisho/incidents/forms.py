"""Browser forms of incidents. They parse what was typed; the rules, with their messages and clauses, are the
services', so the browser and the API refuse the same things with the same words."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sekisho.core.models import Contract
from sekisho.ledger.models import Asset, AssetState, PersonalCategory

from . import deadlines
from .models import Incident, IncidentKind
from .services import AuthorityReport, IncidentData

# The report form lists this many assets as check boxes; a larger ledger is named by 台帳番号 as well.
ASSET_CHOICES_LIMIT = 200
DATETIME_INPUT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=DATETIME_INPUT, **kwargs)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


def _now_minute() -> dt.datetime:
    return timezone.localtime().replace(second=0, microsecond=0)


class IncidentForm(forms.Form):
    """Report (and later revise) an incident or a near miss."""

    near_miss = forms.BooleanField(
        label=_("ヒヤリハット（事故には至らなかった）"),
        required=False,
        help_text=_("情報が管理外に出なかった事案もヒヤリハットとして報告します（P10）。"),
    )
    kind = forms.ChoiceField(label=_("種別"), choices=IncidentKind.choices)
    title = forms.CharField(label=_("件名"), max_length=200)
    description = forms.CharField(
        label=_("概要（発生・発覚の経緯）"),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=10_000,
        help_text=_("いつ・どこで・何が・どのように起きたか、分かっていることを記入してください。"),
    )
    detected_at = forms.DateTimeField(
        label=_("覚知日時"),
        widget=DateTimeLocalInput(),
        input_formats=[DATETIME_INPUT],
        help_text=_("事故に気付いた日時です。報告期限はこの日を1日目として数えます。"),
    )
    occurred_at = forms.DateTimeField(
        label=_("発生日時（分かる場合）"),
        widget=DateTimeLocalInput(),
        input_formats=[DATETIME_INPUT],
        required=False,
    )
    assets = forms.ModelMultipleChoiceField(
        label=_("対象の台帳情報"),
        queryset=Asset.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    asset_refs = forms.CharField(
        label=_("台帳番号で指定"),
        required=False,
        max_length=2000,
        help_text=_("一覧にない台帳情報は、台帳番号をカンマ区切りで入力してください（例: A-12, A-15）。"),
    )
    has_personal_info = forms.BooleanField(label=_("個人情報を含む"), required=False)
    personal_categories = forms.MultipleChoiceField(
        label=_("個人情報の項目"),
        choices=PersonalCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    personal_count = forms.IntegerField(
        label=_("本人の数"),
        min_value=1,
        required=False,
        help_text=_("調査中の場合は見込みの数を入力し、判明したら更新してください。"),
    )
    financial_damage_risk = forms.BooleanField(label=_("不正利用による財産的被害のおそれ"), required=False)
    wrongful_purpose = forms.BooleanField(
        label=_("不正の目的によるおそれ（不正アクセス・盗難など）"), required=False
    )
    encrypted = forms.BooleanField(
        label=_("高度な暗号化等の保護措置あり（復号鍵は漏えいしていない）"), required=False
    )

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contract = contract
        held = Asset.objects.filter(contract=contract).exclude(
            state__in=(AssetState.RETURNED, AssetState.DESTROYED)
        )
        listed = held.filter(pk__in=held.order_by("id").values("pk")[:ASSET_CHOICES_LIMIT]).order_by("id")
        field: Any = self.fields["assets"]
        field.queryset = listed
        field.label_from_instance = lambda a: f"{a.ref} {a.title}"
        self.has_more_assets = held.count() > ASSET_CHOICES_LIMIT
        if not self.is_bound:
            self.initial.setdefault("detected_at", _now_minute())
            # Assets beyond the listed ones are named by their number.
            chosen = list(self.initial.get("assets") or [])
            listed_ids = set(listed.values_list("pk", flat=True)) if chosen else set()
            self.initial["assets"] = [a for a in chosen if a.pk in listed_ids]
            self.initial["asset_refs"] = ", ".join(a.ref for a in chosen if a.pk not in listed_ids)

    def clean_asset_refs(self) -> list[Asset]:
        refs = [
            r.strip()
            for r in self.cleaned_data.get("asset_refs", "").replace("、", ",").split(",")
            if r.strip()
        ]
        if not refs:
            return []
        found = list(Asset.objects.filter(contract=self.contract, ref__in=refs))
        missing = sorted(set(refs) - {a.ref for a in found})
        if missing:
            raise forms.ValidationError(_("台帳にない番号です: {refs}").format(refs=", ".join(missing)))
        return found

    def data_for_service(self) -> IncidentData:
        c = self.cleaned_data
        assets = {a.pk: a for a in [*c.get("assets", []), *c.get("asset_refs", [])]}
        return IncidentData(
            kind=c["kind"],
            title=c["title"],
            description=c["description"],
            detected_at=c["detected_at"],
            occurred_at=c.get("occurred_at"),
            near_miss=c.get("near_miss", False),
            assets=list(assets.values()),
            has_personal_info=c.get("has_personal_info", False),
            personal_categories=c.get("personal_categories", []),
            personal_count=c.get("personal_count"),
            financial_damage_risk=c.get("financial_damage_risk", False),
            wrongful_purpose=c.get("wrongful_purpose", False),
            encrypted=c.get("encrypted", False),
        )

    @classmethod
    def initial_for(cls, incident: Incident) -> dict[str, Any]:
        return {
            "near_miss": incident.near_miss,
            "kind": incident.kind,
            "title": incident.title,
            "description": incident.description,
            "detected_at": timezone.localtime(incident.detected_at).replace(second=0, microsecond=0),
            "occurred_at": (
                timezone.localtime(incident.occurred_at).replace(second=0, microsecond=0)
                if incident.occurred_at
                else None
            ),
            "assets": list(incident.assets.all()),
            "has_personal_info": incident.has_personal_info,
            "personal_categories": incident.personal_categories,
            "personal_count": incident.personal_count,
            "financial_damage_risk": incident.financial_damage_risk,
            "wrongful_purpose": incident.wrongful_purpose,
            "encrypted": incident.encrypted,
        }


class ReviseForm(IncidentForm):
    note = forms.CharField(label=_("更新の理由"), required=False, max_length=500)


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("備考（任意）"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class CauseForm(forms.Form):
    cause = forms.CharField(label=_("原因"), widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000)
    secondary_damage = forms.CharField(
        label=_("二次被害又はそのおそれの有無及びその内容"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=10_000,
    )


class CorrectiveForm(forms.Form):
    measures = forms.CharField(
        label=_("是正・補完措置"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=10_000,
        help_text=_("回収・削除依頼、アクセスの遮断、パスワード変更など、この事案に対して講じた措置。"),
    )
    response_to_individuals = forms.CharField(
        label=_("本人への対応の実施状況"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=10_000,
    )
    publication = forms.CharField(
        label=_("公表の実施状況"), widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=10_000
    )


class PreventionForm(forms.Form):
    prevention = forms.CharField(
        label=_("再発防止策"), widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000
    )
    other_notes = forms.CharField(
        label=_("その他参考となる事項"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=10_000,
    )


class ReturnForm(forms.Form):
    instruction = forms.CharField(
        label=_("指示の内容"), widget=forms.Textarea(attrs={"rows": 3}), max_length=10_000
    )


class AuthorityReportForm(forms.Form):
    stage = forms.ChoiceField(
        label=_("区分"), choices=[(AuthorityReport.PROMPT, _("速報")), (AuthorityReport.FINAL, _("確報"))]
    )
    reported_on = forms.DateField(label=_("報告日"), widget=DateInput(), input_formats=["%Y-%m-%d"])
    note = forms.CharField(label=_("備考（任意）"), required=False, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("reported_on", timezone.localdate())


class SettingsForm(forms.Form):
    orderer_notice_days = forms.IntegerField(
        label=_("発注者への報告期限（覚知日からの日数。0は当日）"), min_value=0, max_value=7
    )
    prompt_report_business_days = forms.IntegerField(
        label=_("速報の目標（営業日。覚知日を1日目とする）"),
        min_value=deadlines.PROMPT_BUSINESS_DAYS_RANGE[0],
        max_value=deadlines.PROMPT_BUSINESS_DAYS_RANGE[1],
    )
