"""Browser forms of the ledger. They only parse what was typed; the rules (and their messages and clauses) are
the services' (``services.check_asset_data`` and ``register_asset``), so the browser, the API and the importer
refuse the same things with the same words."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sekisho.core import policy
from sekisho.core.models import CONTRACTOR_ROLES, Contract, Membership, User
from sekisho.web.templatetags.wareki import wareki

from . import selectors, services
from .models import Asset, AssetState, LocationKind, Medium, Origin, PersonalCategory

PAGE_SIZE = 50

_ANY = ("", _("すべて"))
YES_NO = [_ANY, ("yes", _("あり")), ("no", _("なし"))]


def clamp_to_period(day: dt.date, contract: Contract) -> dt.date:
    return min(max(day, contract.period_start), contract.period_end)


class LedgerFilterForm(forms.Form):
    """The search box and filters of the ledger list (a GET form; a bad value is ignored, not an error)."""

    q = forms.CharField(label=_("検索"), required=False, max_length=200)
    important = forms.ChoiceField(
        label=_("重要情報"), required=False, choices=[_ANY, ("yes", _("重要")), ("no", _("重要以外"))]
    )
    confidentiality = forms.ChoiceField(
        label=_("機密性"), required=False, choices=[_ANY, ("3", "3"), ("2", "2"), ("1", "1")]
    )
    personal = forms.ChoiceField(label=_("個人情報"), required=False, choices=YES_NO)
    state = forms.ChoiceField(label=_("状態"), required=False, choices=[_ANY, *AssetState.choices])
    medium = forms.ChoiceField(label=_("媒体"), required=False, choices=[_ANY, *Medium.choices])

    def filters(self) -> selectors.LedgerFilters:
        if not self.is_bound:
            return selectors.LedgerFilters()
        self.is_valid()
        data: dict[str, Any] = getattr(self, "cleaned_data", {})

        def yes_no(name: str) -> bool | None:
            return {"yes": True, "no": False}.get(data.get(name) or "")

        confidentiality = data.get("confidentiality") or ""
        return selectors.LedgerFilters(
            q=data.get("q") or "",
            important=yes_no("important"),
            personal=yes_no("personal"),
            state=data.get("state") or "",
            medium=data.get("medium") or "",
            confidentiality=int(confidentiality) if confidentiality else None,
        )

    @property
    def is_filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)


class CustodianField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.display_name or obj.username}（{obj.username}）"


class AssetForm(forms.Form):
    """The fields of ``services.AssetData``. Nothing is required here: the service says what is missing."""

    title = forms.CharField(label=_("名称"), required=False, max_length=300)
    description = forms.CharField(label=_("内容"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    medium = forms.ChoiceField(
        label=_("媒体"), required=False, choices=Medium.choices, widget=forms.RadioSelect
    )
    origin = forms.ChoiceField(
        label=_("由来"), required=False, choices=Origin.choices, widget=forms.RadioSelect
    )
    parent = forms.CharField(
        label=_("元の情報（台帳番号）"),
        required=False,
        max_length=20,
        help_text=_("複写・電子化や加工の元になった台帳情報の台帳番号（例: A-000001）"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "input--short"}),
    )
    received_on = forms.DateField(
        label=_("受領・作成日"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    custodian = CustodianField(label=_("管理者"), required=False, queryset=User.objects.none())
    location_kind = forms.ChoiceField(
        label=_("保管場所の種別"), required=False, choices=LocationKind.choices, widget=forms.RadioSelect
    )
    location = forms.CharField(label=_("保管場所"), required=False, max_length=200)
    quantity = forms.IntegerField(
        label=_("数量（紙）"),
        required=False,
        min_value=0,
        widget=forms.NumberInput(attrs={"class": "input--short", "inputmode": "numeric"}),
    )
    important = forms.BooleanField(label=_("重要情報"), required=False)
    confidentiality = forms.TypedChoiceField(
        label=_("機密性"), choices=[(3, "3"), (2, "2"), (1, "1")], coerce=int, initial=2
    )
    integrity = forms.TypedChoiceField(label=_("完全性"), choices=[(2, "2"), (1, "1")], coerce=int, initial=1)
    availability = forms.TypedChoiceField(
        label=_("可用性"), choices=[(2, "2"), (1, "1")], coerce=int, initial=1
    )
    has_personal_info = forms.BooleanField(label=_("個人情報を含む"), required=False)
    personal_categories = forms.MultipleChoiceField(
        label=_("個人情報の項目"),
        required=False,
        choices=PersonalCategory.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    personal_count = forms.IntegerField(
        label=_("本人の数"),
        required=False,
        min_value=0,
        widget=forms.NumberInput(attrs={"class": "input--short", "inputmode": "numeric"}),
    )
    personal_purpose = forms.CharField(
        label=_("収集・利用の目的"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    personal_necessity = forms.CharField(
        label=_("業務上の必要性"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, contract: Contract, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contract = contract
        self.user = user
        member_ids = (
            policy.visible(user, Membership)
            .filter(contract=contract, role__in=CONTRACTOR_ROLES, ended_at__isnull=True)
            .values("user_id")
        )
        field: Any = self.fields["custodian"]
        field.queryset = User.objects.filter(pk__in=member_ids).order_by("username")
        self.fields["received_on"].help_text = _("履行期間内の日付（{start}〜{end}）").format(
            start=wareki(contract.period_start), end=wareki(contract.period_end)
        )
        self.parent_asset: Asset | None = None

    @classmethod
    def initial_for(cls, contract: Contract, user: Any, parent: Asset | None) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "received_on": clamp_to_period(timezone.localdate(), contract),
            "custodian": user.pk,
            "confidentiality": 2,
            "integrity": 1,
            "availability": 1,
        }
        if parent is not None:
            initial.update(
                parent=parent.ref,
                origin=Origin.COPY,
                important=parent.important,
                confidentiality=parent.confidentiality,
                integrity=parent.integrity,
                availability=parent.availability,
            )
        return initial

    def clean_parent(self) -> str:
        ref = (self.cleaned_data.get("parent") or "").strip()
        if ref:
            self.parent_asset = (
                policy.visible(self.user, Asset).filter(contract=self.contract, ref__iexact=ref).first()
            )
            if self.parent_asset is None:
                raise forms.ValidationError(_("台帳番号「{ref}」の情報が見つかりません。").format(ref=ref))
        return ref

    def asset_data(self) -> services.AssetData:
        d = self.cleaned_data
        has_personal = bool(d.get("has_personal_info"))
        return services.AssetData(
            title=d.get("title") or "",
            description=d.get("description") or "",
            medium=d.get("medium") or "",
            origin=d.get("origin") or "",
            parent=self.parent_asset,
            received_on=d.get("received_on"),  # type: ignore[arg-type]  # None is reported by the service
            custodian=d.get("custodian"),
            location_kind=d.get("location_kind") or "",
            location=d.get("location") or "",
            quantity=d.get("quantity"),
            important=bool(d.get("important")),
            confidentiality=d.get("confidentiality") or 2,
            integrity=d.get("integrity") or 1,
            availability=d.get("availability") or 1,
            has_personal_info=has_personal,
            personal_categories=list(d.get("personal_categories") or []),
            personal_count=d.get("personal_count"),
            personal_purpose=d.get("personal_purpose") or "",
            personal_necessity=d.get("personal_necessity") or "",
        )

    def add_service_errors(self, errors: list[services.FieldError]) -> None:
        """Put the service's findings next to their fields (with the clause, when one is named)."""
        for error in errors:
            message = error.message
            if error.clause:
                message = _("{message}（根拠条項: {clause}）").format(message=message, clause=error.clause)
            self.add_error(error.field if error.field in self.fields else None, message)


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("取込むファイル（Excel・CSV）"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv,text/csv"}),
    )
