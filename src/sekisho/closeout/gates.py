"""The rule ``core.services.transition_contract`` asks before a contract closes (R2.5, P9): nothing of the
ledger may still be open, and the orderer has confirmed the return/destruction certificate."""

from __future__ import annotations

from django.utils.translation import gettext as _

from sekisho.core.errors import Conflict
from sekisho.core.models import Contract
from sekisho.ledger.models import Asset

from . import selectors
from .models import CloseOut, CloseOutState

CLAUSE = "R2.5"


def unresolved_refusal(contract: Contract, *, doing: str = "") -> Conflict | None:
    """The refusal while items of the checklist (or assets not yet on it) are open, with their count; P9 named
    when personal information is among them. None when everything is resolved."""
    open_items = selectors.unresolved_items(contract)
    missing_assets = selectors.assets_missing_from_checklist(contract)
    count = open_items.count() + missing_assets.count()
    if not count:
        return None
    personal = (
        open_items.filter(asset__has_personal_info=True).count()
        + missing_assets.filter(has_personal_info=True).count()
    )
    message = _("返却・廃棄・保存が済んでいない情報が{n}件あるため、{doing}できません（R2.5）。").format(
        n=count, doing=doing or _("契約を完了")
    )
    if personal:
        message += _("うち{n}件は個人情報を含みます（P9: 契約終了後直ちに返還）。").format(n=personal)
    exc = Conflict(message, code="closeout_unresolved", clause=CLAUSE)
    exc.extra = {  # type: ignore[attr-defined]
        "open_items": count,
        "personal_open_items": personal,
        "clauses": ["R2.5", "P9"] if personal else ["R2.5"],
    }
    return exc


def require_closed_out(contract: Contract) -> None:
    """Refuse to close *contract* while any information of its ledger is not returned (receipt confirmed),
    destroyed on the orderer's instruction or retained (acknowledged), or while the certificate is not
    confirmed by the orderer. A contract that never held any information closes freely."""
    if not Asset.objects.filter(contract_id=contract.pk).exists():
        return
    closeout = CloseOut.objects.filter(contract_id=contract.pk).first()
    if closeout is None:
        raise Conflict(
            _(
                "返却・廃棄の手続が開始されていないため、契約を完了できません。台帳のすべての情報の返却・廃棄・保存を済ませてください。"
            ),
            code="closeout_not_opened",
            clause=CLAUSE,
        )
    refusal = unresolved_refusal(contract)
    if refusal is not None:
        raise refusal
    if closeout.state != CloseOutState.CONFIRMED:
        raise Conflict(
            _("返却・廃棄証明書が発注者に確認されていないため、契約を完了できません。"),
            code="certificate_not_confirmed",
            clause=CLAUSE,
        )
