"""Browser forms of the close-out. They only parse what was typed; the rules, their messages and clauses are the
services' own, so the browser and the API refuse the same things with the same words."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sekisho.ledger.models import Medium

from .models import DestructionMethod, ItemState
from .selectors import ItemFilters

PAGE_SIZE = 100
_ANY = ("", _("すべて"))


class FilterForm(forms.Form):
    """The checklist's filters (a GET form; a bad value is ignored, not an error)."""

    q = forms.CharField(label=_("検索"), required=False, max_length=200)
    state = forms.ChoiceField(label=_("処理の状態"), required=False, choices=[_ANY, *ItemState.choices])
    medium = forms.ChoiceField(label=_("媒体"), required=False, choices=[_ANY, *Medium.choices])
    personal = forms.ChoiceField(
        label=_("個人情報"), required=False, choices=[_ANY, ("yes", _("あり")), ("no", _("なし"))]
    )

    def filters(self) -> ItemFilters:
        if not self.is_bound:
            return ItemFilters()
        self.is_valid()
        data: dict[str, Any] = getattr(self, "cleaned_data", {})
        return ItemFilters(
            q=data.get("q") or "",
            state=data.get("state") or "",
            medium=data.get("medium") or "",
            personal={"yes": True, "no": False}.get(data.get("personal") or ""),
        )


# What the bulk form of the checklist can do, and the action of the policy each needs.
BULK_ACTIONS: dict[str, str] = {
    "hand-over": "closeout.resolve",
    "destroy": "closeout.resolve",
    "retain": "closeout.resolve",
    "instruct-destruction": "closeout.instruct",
    "instruct-retention": "closeout.instruct",
    "confirm-receipt": "closeout.confirm",
    "acknowledge-retention": "closeout.confirm",
    "send-back": "closeout.confirm",
}
# The item states each bulk action starts from (what "all matching the filters" picks).
BULK_SOURCE_STATES: dict[str, tuple[str, ...]] = {
    "hand-over": (ItemState.OPEN,),
    "destroy": (ItemState.OPEN,),
    "retain": (ItemState.OPEN,),
    "instruct-destruction": (ItemState.OPEN,),
    "instruct-retention": (ItemState.OPEN,),
    "confirm-receipt": (ItemState.HANDED_OVER,),
    "acknowledge-retention": (ItemState.RETENTION_PROPOSED,),
    "send-back": (ItemState.HANDED_OVER, ItemState.RETENTION_PROPOSED),
}
HAND_METHODS = [(m.value, m.label) for m in DestructionMethod if m != DestructionMethod.CRYPTO_SHREDDING]


class BulkForm(forms.Form):
    """The items chosen on the checklist (or all that match its filters) and what to do with them."""

    action = forms.ChoiceField(choices=[(a, a) for a in BULK_ACTIONS])
    item = forms.Field(required=False, widget=forms.MultipleHiddenInput)
    all_matching = forms.BooleanField(required=False)
    note = forms.CharField(label=_("備考"), required=False, max_length=2000)
    method = forms.ChoiceField(label=_("廃棄の方法"), required=False, choices=[("", "—"), *HAND_METHODS])
    destroyed_on = forms.DateField(
        label=_("廃棄日"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    witness = forms.CharField(label=_("立会者"), required=False, max_length=200)
    basis = forms.CharField(label=_("保存の根拠"), required=False, max_length=2000)
    law = forms.CharField(label=_("根拠法令・契約条項"), required=False, max_length=300)
    until = forms.DateField(
        label=_("保存期限"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_item(self) -> list[int]:
        ids = []
        for value in self.cleaned_data.get("item") or []:
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise forms.ValidationError(_("対象の指定が正しくありません。")) from None
            if not 1 <= number <= 2**63 - 1:
                raise forms.ValidationError(_("対象の指定が正しくありません。"))
            ids.append(number)
        return ids


class DecideForm(forms.Form):
    """One row of the orderer's inbox: confirm it, or send it back with a reason."""

    item = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    decision = forms.ChoiceField(choices=[("confirm", "confirm"), ("send-back", "send-back")])
    note = forms.CharField(required=False, max_length=2000)


class ShredForm(forms.Form):
    permit = forms.IntegerField(label=_("廃棄の指示（承諾）"), min_value=1, max_value=2**63 - 1)
    note = forms.CharField(label=_("備考"), required=False, max_length=2000)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("備考"), required=False, max_length=2000)
