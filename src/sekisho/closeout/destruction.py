"""Destruction in the close-out (R2.5, P9): only on the orderer's instruction.

The instruction is a destruction (or retention) permit decided by the orderer — asked for by the contractor
through the permits, or given by the orderer straight from the checklist (``instruct``). Paper, and electronic
copies outside the vault, are destroyed by hand and recorded with the method, the date and the witness.
Electronic information in the vault is destroyed by crypto-shredding through the vault's own service (the
contract key goes from the key store and every key-store backup), never by anything here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.core.models import Contract
from sekisho.ledger.models import Medium
from sekisho.permits.models import Permit, PermitKind, PermitState
from sekisho.vault import services as vault
from sekisho.vault.models import Shredding, VaultObject

from . import selectors
from .models import ELECTRONIC_METHODS, PAPER_METHODS, CloseOutItem, DestructionMethod, ItemState
from .services import (
    CLAUSE,
    CLAUSE_PERSONAL,
    audit,
    begin,
    clean,
    load_items,
    refs_text,
    refuse_in_transit,
    settle_assets,
    update_items,
)

# How long an instruction given from the checklist stays in force: the close-out may outlast the contract
# period, so it is counted from the day it is given.
INSTRUCTION_DAYS = 180
INSTRUCTION_KINDS = (PermitKind.DESTRUCTION, PermitKind.RETENTION)


@transaction.atomic
def instruct(
    contract: Contract, *, acting_user: Any, kind: str, item_ids: Iterable[int], note: str = ""
) -> Permit:
    """The orderer instructs the destruction, or the retention, of open items (R2.5, P9). Recorded as a
    permit of that kind decided by the orderer, as if asked for and approved: the same record the vault's
    shredding and the close-out's checks read."""
    contract, closeout = begin(contract, acting_user, "closeout.instruct")
    if kind not in INSTRUCTION_KINDS:
        raise Invalid(_("指示の種別は「廃棄」か「法令等による保存」です。"), code="invalid_kind")
    items = load_items(closeout, item_ids, states=[ItemState.OPEN])
    today, now = timezone.localdate(), timezone.now()
    reason = clean(note) or str(_("業務完了に伴う発注者の指示（{kind}）").format(kind=PermitKind(kind).label))
    permit = Permit.objects.create(
        contract=contract,
        kind=kind,
        requester=acting_user,
        reason=reason,
        valid_from=today,
        valid_until=today + dt.timedelta(days=INSTRUCTION_DAYS),
        state=PermitState.APPROVED,
        decided_by=acting_user,
        decided_at=now,
        decision_note=str(_("発注者の指示（完了手続のチェックリストから）")),
    )
    through = Permit.assets.through
    for batch in selectors.in_batches([i.asset_id for i in items]):
        through.objects.bulk_create([through(permit_id=permit.pk, asset_id=asset_id) for asset_id in batch])
    record(
        actor=acting_user,
        action="permit.instruct",
        contract=contract,
        obj=permit,
        summary={
            "kind": kind,
            "assets": [i.asset.ref for i in items],
            "valid": [permit.valid_from, permit.valid_until],
            "reason": reason,
        },
    )
    audit(acting_user, "closeout.instruct", closeout, items, kind=kind, permit=permit.pk)
    return permit


def _require_destruction_instruction(contract: Contract, items: Sequence[CloseOutItem]) -> dict[int, Permit]:
    instructed = selectors.instructions(contract, [i.asset_id for i in items], PermitKind.DESTRUCTION)
    lacking = [i for i in items if i.asset_id not in instructed]
    if lacking:
        personal = any(i.asset.has_personal_info for i in lacking)
        raise Forbidden(
            _("発注者の廃棄の指示がない情報は廃棄できません（返却してください）: {refs}").format(
                refs=refs_text([i.asset.ref for i in lacking])
            ),
            code="destruction_not_instructed",
            clause=CLAUSE_PERSONAL if personal else CLAUSE,
        )
    return instructed


@transaction.atomic
def destroy(
    contract: Contract,
    *,
    acting_user: Any,
    item_ids: Iterable[int],
    method: str,
    destroyed_on: dt.date,
    witness: str,
    note: str = "",
) -> int:
    """Record the destruction of paper, or of electronic copies outside the vault, on the orderer's instruction
    (R2.5, P9): the method, the day and who witnessed it. Content in the vault is destroyed by crypto-shredding
    only (``shred_vault``)."""
    contract, closeout = begin(contract, acting_user, "closeout.resolve")
    witness = clean(witness, 200)
    if method not in DestructionMethod.values or method == DestructionMethod.CRYPTO_SHREDDING:
        raise Invalid(_("廃棄の方法を選んでください。"), code="invalid_method")
    if not witness:
        raise Invalid(_("廃棄に立ち会った者を入力してください。"), code="witness_required", clause=CLAUSE)
    if destroyed_on > timezone.localdate() or destroyed_on < contract.period_start:
        raise Invalid(_("廃棄日は履行期間の始期から今日までの日付にしてください。"), code="invalid_date")
    items = load_items(closeout, item_ids, states=[ItemState.OPEN])
    refuse_in_transit(items)
    allowed: dict[str, frozenset[str]] = {Medium.PAPER: PAPER_METHODS, Medium.ELECTRONIC: ELECTRONIC_METHODS}
    unfit = [i.asset.ref for i in items if method not in allowed[i.asset.medium]]
    if unfit:
        raise Invalid(
            _("この廃棄の方法は媒体に合いません（{method}）: {refs}").format(
                method=DestructionMethod(method).label, refs=refs_text(unfit)
            ),
            code="method_not_for_medium",
        )
    in_vault = set(
        VaultObject.objects.filter(asset_id__in=[i.asset_id for i in items]).values_list(
            "asset_id", flat=True
        )
    )
    if in_vault:
        raise Conflict(
            _("保管庫の電子情報は、暗号鍵の削除（クリプトシュレッディング）で廃棄します: {refs}").format(
                refs=refs_text([i.asset.ref for i in items if i.asset_id in in_vault])
            ),
            code="use_crypto_shredding",
            clause=CLAUSE,
        )
    instructed = _require_destruction_instruction(contract, items)
    now = timezone.now()
    settle_assets(items, ItemState.DESTROYED, now)
    by_permit: dict[int, list[CloseOutItem]] = {}
    for item in items:
        by_permit.setdefault(instructed[item.asset_id].pk, []).append(item)
    for permit_id, group in by_permit.items():
        update_items(
            group,
            state=ItemState.DESTROYED,
            instruction_id=permit_id,
            destruction_method=method,
            destroyed_on=destroyed_on,
            witness=witness,
            note=clean(note),
            resolved_by=acting_user,
            resolved_at=now,
            updated_at=now,
        )
    audit(
        acting_user,
        "closeout.destroy",
        closeout,
        items,
        method=method,
        destroyed_on=destroyed_on,
        witness=witness,
        instructions=sorted(by_permit),
    )
    return len(items)


@transaction.atomic
def shred_vault(contract: Contract, *, acting_user: Any, permit_id: int, note: str = "") -> Shredding:
    """Destroy the contract's electronic information in the vault on the orderer's destruction instruction
    (R2.5, P9) by crypto-shredding, through the vault's service: the open items of everything in the vault
    become destroyed, with the shredding as their proof. The key destroys the whole vault of the contract at
    once, so nothing of it may be waiting for the orderer (a hand-over or a retention) when it goes."""
    contract, closeout = begin(contract, acting_user, "closeout.resolve")
    permit = Permit.objects.filter(pk=permit_id, contract=contract).first()
    if permit is None:
        raise NotFound(_("承諾が見つかりません。"))
    states = selectors.vault_item_states(contract)
    waiting = sum(n for state, n in states.items() if state not in (ItemState.OPEN, ItemState.RETURNED))
    if waiting:
        raise Conflict(
            _(
                "保管庫の情報に、返却の受領確認待ち・保存・廃棄済みのものが{n}件あります。暗号鍵を削除するとすべて読めなくなるため、先に整理してください。"
            ).format(n=waiting),
            code="vault_items_not_open",
            clause=CLAUSE,
        )
    items = list(
        selectors.in_vault(CloseOutItem.objects.filter(closeout=closeout, state=ItemState.OPEN))
        .select_related("asset")
        .order_by("asset_id")
    )
    if not items:
        raise Conflict(_("暗号鍵の削除で廃棄する保管庫の情報はありません。"), code="nothing_to_shred")
    now = timezone.now()
    # The items first, the shredding last: it deletes the key only after everything else is written, so a
    # refusal anywhere rolls everything back with the key still there.
    update_items(
        items,
        state=ItemState.DESTROYED,
        instruction_id=permit.pk,
        destruction_method=DestructionMethod.CRYPTO_SHREDDING,
        destroyed_on=timezone.localdate(),
        witness="",
        note=clean(note),
        resolved_by=acting_user,
        resolved_at=now,
        updated_at=now,
    )
    shredding = vault.shred_contract(contract, acting_user=acting_user, permit=permit, note=clean(note))
    update_items(items, shredding=shredding)
    audit(acting_user, "closeout.shred", closeout, items, shredding=shredding.pk, key_ids=shredding.key_ids)
    return shredding
