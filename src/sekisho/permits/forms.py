"""Browser forms of permits. They parse; ``sekisho.permits.services`` decides what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sekisho.core import policy
from sekisho.core.models import Contract
from sekisho.ledger.forms import clamp_to_period
from sekisho.ledger.models import Asset, AssetState

from .models import PermitKind, PermitState

PAGE_SIZE = 50
_ANY = ("", _("すべて"))


class PermitFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("状態"), required=False, choices=[_ANY, *PermitState.choices])
    kind = forms.ChoiceField(label=_("種別"), required=False, choices=[_ANY, *PermitKind.choices])

    def values(self) -> dict[str, str]:
        if not self.is_bound:
            return {"state": "", "kind": ""}
        self.is_valid()
        data: dict[str, Any] = getattr(self, "cleaned_data", {})
        return {"state": data.get("state") or "", "kind": data.get("kind") or ""}


class AssetChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.ref} {obj.title}（{obj.get_medium_display()}）"


class PermitRequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("種別"), choices=PermitKind.choices)
    assets = AssetChoiceField(
        label=_("対象情報"),
        required=False,
        queryset=Asset.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("保管中の台帳情報から選びます（再委託・下請負の申請では不要）。"),
    )
    copies = forms.IntegerField(
        label=_("部数"),
        required=False,
        min_value=1,
        widget=forms.NumberInput(attrs={"class": "input--short", "inputmode": "numeric"}),
        help_text=_("複写・電子化の申請で、作成する部数"),
    )
    recipient = forms.CharField(
        label=_("提供先・移送先・再委託先"),
        required=False,
        max_length=200,
    )
    purpose = forms.CharField(label=_("使用目的"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    reason = forms.CharField(label=_("申請の理由"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    valid_from = forms.DateField(
        label=_("有効期間（始期）"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    valid_until = forms.DateField(
        label=_("有効期間（終期）"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, contract: Contract, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["assets"]
        field.queryset = (
            policy.visible(user, Asset)
            .filter(contract=contract, state__in=[AssetState.HELD, AssetState.RETAINED])
            .order_by("id")
        )

    @staticmethod
    def initial_for(contract: Contract, *, asset_ids: list[int], kind: str) -> dict[str, Any]:
        return {
            "kind": kind if kind in PermitKind.values else PermitKind.COPY,
            "assets": asset_ids,
            "valid_from": clamp_to_period(timezone.localdate(), contract),
            "valid_until": contract.period_end,
        }


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "approve"), ("deny", "deny")])
    note = forms.CharField(required=False, max_length=2000)
    conditions = forms.CharField(required=False, max_length=2000)


class RevokeForm(forms.Form):
    note = forms.CharField(label=_("取消の理由"), required=False, max_length=2000)
