"""Close-out steps (R2.5, P9): open the checklist, return items to the orderer (two steps: the contractor hands
over, the orderer confirms receipt), retain items with a legal basis (the orderer acknowledges; personal
information only on the orderer's instruction). Destruction is in ``destruction.py``, the certificate in
``certificate.py``.

Every step works on many items at once — a contract has thousands — in one transaction: the items are
checked one by one against the clause (all or nothing: one refusal names the items and refuses the whole
batch), then written with a few set-based updates, and one audit event lists them all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Conflict, Forbidden, Invalid
from sekisho.core.models import Contract
from sekisho.ledger.models import ASSET_TRANSITIONS, Asset, AssetState
from sekisho.permits.models import PermitKind
from sekisho.vault.models import Shredding

from . import selectors
from .models import (
    ASSET_STATE_OF,
    CloseOut,
    CloseOutItem,
    CloseOutState,
    DestructionMethod,
    ItemState,
)

CLAUSE = "R2.5"
CLAUSE_PERSONAL = "P9"
MAX_ITEMS = 100_000
SHOWN_REFS = 10


# --- shared steps ---------------------------------------------------------------------------------------------


def refs_text(refs: Sequence[str]) -> str:
    """Ledger numbers for a message: the first few, and how many more."""
    shown = ", ".join(refs[:SHOWN_REFS])
    rest = len(refs) - SHOWN_REFS
    return shown + (_(" 他{n}件").format(n=rest) if rest > 0 else "")


def require_closing(contract: Contract) -> None:
    if contract.status != Contract.Status.CLOSING:
        raise Conflict(
            _("返却・廃棄の手続は、契約が「完了手続中」のときに行います（現在: {status}）。").format(
                status=Contract.Status(contract.status).label
            ),
            code="contract_not_closing",
            clause=CLAUSE,
        )


def begin(contract: Contract, acting_user: Any, action: str) -> tuple[Contract, CloseOut]:
    """Lock the contract (every close-out step of a contract runs one at a time), check the policy and the
    contract's status, and return the close-out."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, action, contract, clause=CLAUSE)
    require_closing(contract)
    closeout = CloseOut.objects.select_for_update().filter(contract=contract).first()
    if closeout is None:
        raise Conflict(
            _("返却・廃棄の手続（チェックリスト）がまだ開始されていません。"),
            code="closeout_not_opened",
            clause=CLAUSE,
        )
    return contract, closeout


def load_items(closeout: CloseOut, item_ids: Iterable[int], *, states: Iterable[str]) -> list[CloseOutItem]:
    """The items named, locked, with their assets; refused unless every one is of this close-out and in one of
    *states*. One query per 500 items."""
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        raise Invalid(_("対象を1件以上選んでください。"), code="no_items")
    if len(ids) > MAX_ITEMS:
        raise Invalid(_("一度に処理できるのは{n}件までです。").format(n=MAX_ITEMS), code="too_many_items")
    items: list[CloseOutItem] = []
    for batch in selectors.in_batches(ids):
        items.extend(
            CloseOutItem.objects.select_for_update(of=("self",))
            .select_related("asset")
            .filter(closeout=closeout, pk__in=batch)
            .order_by("asset_id")
        )
    if len(items) != len(ids):
        raise Invalid(_("対象の台帳情報が見つかりません。"), code="unknown_item")
    allowed = frozenset(states)
    wrong = [i for i in items if i.state not in allowed]
    if wrong:
        raise Conflict(
            _("この操作ができない状態の情報があります: {refs}（状態: {state}）").format(
                refs=refs_text([i.asset.ref for i in wrong]), state=ItemState(wrong[0].state).label
            ),
            code="invalid_item_state",
            clause=CLAUSE,
        )
    return items


def refuse_in_transit(items: Sequence[CloseOutItem]) -> None:
    moving = [i.asset.ref for i in items if i.asset.state == AssetState.IN_TRANSIT]
    if moving:
        raise Conflict(
            _("移送中の情報があります。移送先での受領確認の後に処理してください: {refs}").format(
                refs=refs_text(moving)
            ),
            code="asset_in_transit",
            clause=CLAUSE,
        )


def update_items(items: Sequence[CloseOutItem], **values: Any) -> None:
    ids = [i.pk for i in items]
    for batch in selectors.in_batches(ids):
        CloseOutItem.objects.filter(pk__in=batch).update(**values)


def settle_assets(items: Sequence[CloseOutItem], item_state: str, now: dt.datetime) -> None:
    """Give the items' assets the ledger state of their resolution (returned, destroyed, retained)."""
    to = ASSET_STATE_OF[item_state]
    stuck = [i.asset.ref for i in items if to not in ASSET_TRANSITIONS.get(i.asset.state, frozenset())]
    if stuck:
        raise Conflict(
            _("台帳の状態が処理に合わない情報があります: {refs}").format(refs=refs_text(stuck)),
            code="asset_state_conflict",
            clause=CLAUSE,
        )
    for batch in selectors.in_batches([i.asset_id for i in items]):
        Asset.objects.filter(pk__in=batch).update(state=to, updated_at=now)


def audit(
    acting_user: Any, action: str, closeout: CloseOut, items: Sequence[CloseOutItem], **summary: Any
) -> None:
    record(
        actor=acting_user,
        action=action,
        contract=closeout.contract,
        obj=closeout,
        summary={"count": len(items), "refs": [i.asset.ref for i in items], **summary},
    )


def clean(text: str, limit: int | None = None) -> str:
    text = (text or "").strip()
    return text[:limit] if limit else text


# --- opening the checklist ------------------------------------------------------------------------------------


def _insert_missing_items(closeout: CloseOut, now: dt.datetime) -> int:
    """Put every asset of the contract that is not on the checklist yet onto it: one INSERT … SELECT, whatever
    the size of the ledger (originals, copies and derivatives alike — they are all rows of the ledger)."""
    q = connection.ops.quote_name
    item_table, asset_table = q(CloseOutItem._meta.db_table), q(Asset._meta.db_table)
    blank = [
        "handover_note",
        "confirmation_note",
        "sent_back_note",
        "destruction_method",
        "witness",
        "retention_basis",
        "retention_law",
        "note",
    ]
    columns = ["closeout_id", "contract_id", "asset_id", "state", *blank, "updated_at"]
    # Only names from the models' metadata are formatted in; every value is a parameter.
    cols = ", ".join(q(c) for c in columns)
    values = ", ".join(["%s", f"a.{q('contract_id')}", f"a.{q('id')}", "%s", *(["%s"] * len(blank)), "%s"])
    exists = f"SELECT 1 FROM {item_table} i WHERE i.{q('asset_id')} = a.{q('id')}"  # noqa: S608
    source = f"SELECT {values} FROM {asset_table} a WHERE a.{q('contract_id')} = %s AND NOT EXISTS ({exists})"  # noqa: S608
    sql = f"INSERT INTO {item_table} ({cols}) {source}"
    params = [
        closeout.pk,
        ItemState.OPEN,
        *([""] * len(blank)),
        connection.ops.adapt_datetimefield_value(now),
        closeout.contract_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _sync_shredded(closeout: CloseOut, now: dt.datetime) -> int:
    """Items whose asset the vault's crypto-shredding destroyed outside the close-out (before it was opened,
    or straight from the vault) are destroyed items, with the shredding as their proof."""
    shredding = Shredding.objects.filter(contract_id=closeout.contract_id).first()
    if shredding is None:
        return 0
    return CloseOutItem.objects.filter(
        closeout=closeout, state=ItemState.OPEN, asset__state=AssetState.DESTROYED
    ).update(
        state=ItemState.DESTROYED,
        destruction_method=DestructionMethod.CRYPTO_SHREDDING,
        destroyed_on=timezone.localtime(shredding.executed_at).date(),
        shredding=shredding,
        instruction_id=shredding.permit_id,
        resolved_by_id=shredding.executed_by_id,
        resolved_at=shredding.executed_at,
        note=_("暗号鍵の削除（保管庫）により廃棄済み"),
        updated_at=now,
    )


@transaction.atomic
def open_closeout(contract: Contract, *, acting_user: Any, note: str = "") -> CloseOut:
    """Open the close-out of a contract in close-out (R2.5, P9): a checklist of every asset of the ledger,
    originals, copies and derivatives. Opening again after new information was registered (the contract was
    reopened meanwhile) adds it, and a certificate issued before must then be issued again."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "closeout.open", contract, clause=CLAUSE)
    require_closing(contract)
    now = timezone.now()
    closeout = CloseOut.objects.select_for_update().filter(contract=contract).first()
    created = closeout is None
    if closeout is None:
        closeout = CloseOut.objects.create(contract=contract, opened_by=acting_user, note=clean(note))
    added = _insert_missing_items(closeout, now)
    synced = _sync_shredded(closeout, now)
    if not created:
        if not added and not synced:
            raise Conflict(
                _("返却・廃棄の手続は既に開始されています。チェックリストに加える情報はありません。"),
                code="closeout_already_open",
            )
        if added and closeout.state != CloseOutState.OPEN:
            closeout.state = CloseOutState.OPEN
            closeout.save(update_fields=["state"])
    total = CloseOutItem.objects.filter(closeout=closeout).count()
    record(
        actor=acting_user,
        action="closeout.open" if created else "closeout.extend",
        contract=contract,
        obj=closeout,
        summary={"added": added, "already_destroyed": synced, "total": total, "note": clean(note)},
    )
    return closeout


# --- (a) return directly to the orderer -----------------------------------------------------------------------


@transaction.atomic
def hand_over(contract: Contract, *, acting_user: Any, item_ids: Iterable[int], note: str = "") -> int:
    """Record that the contractor handed items back directly to the orderer (R2.5, P9). They stay open until
    the orderer confirms receipt."""
    contract, closeout = begin(contract, acting_user, "closeout.resolve")
    items = load_items(closeout, item_ids, states=[ItemState.OPEN])
    refuse_in_transit(items)
    now = timezone.now()
    update_items(
        items,
        state=ItemState.HANDED_OVER,
        handed_over_by=acting_user,
        handed_over_at=now,
        handover_note=clean(note),
        sent_back_note="",
        updated_at=now,
    )
    audit(acting_user, "closeout.hand_over", closeout, items, note=clean(note))
    return len(items)


@transaction.atomic
def confirm_receipt(contract: Contract, *, acting_user: Any, item_ids: Iterable[int], note: str = "") -> int:
    """The orderer confirms having received the items back (R2.5, P9): only now are they returned, and the
    ledger shows them so."""
    contract, closeout = begin(contract, acting_user, "closeout.confirm")
    items = load_items(closeout, item_ids, states=[ItemState.HANDED_OVER])
    now = timezone.now()
    settle_assets(items, ItemState.RETURNED, now)
    update_items(
        items,
        state=ItemState.RETURNED,
        confirmed_by=acting_user,
        confirmed_at=now,
        confirmation_note=clean(note),
        resolved_by=acting_user,
        resolved_at=now,
        updated_at=now,
    )
    audit(acting_user, "closeout.confirm_receipt", closeout, items, note=clean(note))
    return len(items)


@transaction.atomic
def send_back(contract: Contract, *, acting_user: Any, item_ids: Iterable[int], note: str) -> int:
    """The orderer refuses a hand-over (not received) or a retention (no basis): the items are open again."""
    contract, closeout = begin(contract, acting_user, "closeout.confirm")
    if not clean(note):
        raise Invalid(_("差し戻す理由を入力してください。"), code="reason_required")
    items = load_items(closeout, item_ids, states=[ItemState.HANDED_OVER, ItemState.RETENTION_PROPOSED])
    now = timezone.now()
    update_items(
        items,
        state=ItemState.OPEN,
        handed_over_by=None,
        handed_over_at=None,
        handover_note="",
        retention_basis="",
        retention_law="",
        retention_until=None,
        instruction=None,
        sent_back_note=clean(note),
        updated_at=now,
    )
    audit(acting_user, "closeout.send_back", closeout, items, note=clean(note))
    return len(items)


# --- (c) retained where law or the contract requires it -------------------------------------------------------


def _require_retention_instruction(contract: Contract, items: Sequence[CloseOutItem]) -> dict[int, Any]:
    """P9: personal information goes back to the orderer right after the contract ends; keeping it needs the
    orderer's instruction for that very item (a retention permit the orderer decided), legal basis or not."""
    instructed = selectors.instructions(contract, [i.asset_id for i in items], PermitKind.RETENTION)
    lacking = [i.asset.ref for i in items if i.asset.has_personal_info and i.asset_id not in instructed]
    if lacking:
        raise Forbidden(
            _(
                "個人情報を含む情報は、発注者の指示がなければ保存できません（返還・引渡しが必要です）: {refs}"
            ).format(refs=refs_text(lacking)),
            code="retention_not_instructed",
            clause=CLAUSE_PERSONAL,
        )
    return instructed


@transaction.atomic
def propose_retention(
    contract: Contract,
    *,
    acting_user: Any,
    item_ids: Iterable[int],
    basis: str,
    law: str,
    until: dt.date | None = None,
    note: str = "",
) -> int:
    """Keep items that law or the contract requires the contractor to keep (R2.5 proviso): the basis in words
    and the law or contract clause. Personal information only on the orderer's instruction (P9). The orderer
    acknowledges before the items count as retained."""
    contract, closeout = begin(contract, acting_user, "closeout.resolve")
    basis, law = clean(basis), clean(law, 300)
    if not basis or not law:
        raise Invalid(
            _("保存の根拠（内容）と根拠法令・契約条項を入力してください。"),
            code="basis_required",
            clause=CLAUSE,
        )
    if until is not None and until < timezone.localdate():
        raise Invalid(_("保存期限は今日以降の日付にしてください。"), code="invalid_until")
    items = load_items(closeout, item_ids, states=[ItemState.OPEN])
    refuse_in_transit(items)
    instructed = _require_retention_instruction(contract, items)
    now = timezone.now()
    by_permit: dict[int | None, list[CloseOutItem]] = {}
    for item in items:
        permit = instructed.get(item.asset_id)
        by_permit.setdefault(permit.pk if permit else None, []).append(item)
    for permit_id, group in by_permit.items():
        update_items(
            group,
            state=ItemState.RETENTION_PROPOSED,
            retention_basis=basis,
            retention_law=law,
            retention_until=until,
            instruction_id=permit_id,
            note=clean(note),
            sent_back_note="",
            updated_at=now,
        )
    audit(
        acting_user,
        "closeout.propose_retention",
        closeout,
        items,
        basis=basis,
        law=law,
        until=until,
        instructions=sorted(p for p in by_permit if p is not None),
    )
    return len(items)


@transaction.atomic
def acknowledge_retention(
    contract: Contract, *, acting_user: Any, item_ids: Iterable[int], note: str = ""
) -> int:
    """The orderer acknowledges the retention (R2.5): the items are retained, the ledger shows them so. For
    personal information the orderer's instruction must still be in force (P9)."""
    contract, closeout = begin(contract, acting_user, "closeout.confirm")
    items = load_items(closeout, item_ids, states=[ItemState.RETENTION_PROPOSED])
    _require_retention_instruction(contract, items)
    now = timezone.now()
    settle_assets(items, ItemState.RETAINED, now)
    update_items(
        items,
        state=ItemState.RETAINED,
        confirmed_by=acting_user,
        confirmed_at=now,
        confirmation_note=clean(note),
        resolved_by=acting_user,
        resolved_at=now,
        updated_at=now,
    )
    audit(acting_user, "closeout.acknowledge_retention", closeout, items, note=clean(note))
    return len(items)
