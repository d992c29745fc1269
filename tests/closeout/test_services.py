"""Close-out (R2.5, P9): every asset of the ledger is returned (the orderer confirms receipt), destroyed on the
orderer's instruction (crypto-shredding for the vault) or retained with a legal basis (personal information
only on the orderer's instruction); the contract cannot close while anything is open."""

from __future__ import annotations

import datetime as dt

import pytest

from sekisho.audit.models import AuditEvent
from sekisho.closeout import certificate, destruction, selectors, services
from sekisho.closeout.models import CloseOut, CloseOutItem, CloseOutState, ItemState
from sekisho.core import services as core
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.core.models import Contract
from sekisho.ledger.models import AssetState
from sekisho.ledger.services import register_asset

from .conftest import TODAY, item_ids, paper, resolve_everything, start_closing

pytestmark = pytest.mark.django_db


def state_of(asset) -> tuple[str, str]:
    asset.refresh_from_db()
    return asset.closeout_item.state, asset.state


def close(world):
    return core.transition_contract(
        world.contract, acting_user=world.orderer, to_status=Contract.Status.CLOSED
    )


# --- opening ---------------------------------------------------------------------------------------------------


def test_opening_puts_every_asset_copy_and_derivative_on_the_checklist(world, closing):
    co = services.open_closeout(world.contract, acting_user=world.manager)
    items = CloseOutItem.objects.filter(closeout=co)
    assert sorted(items.values_list("asset_id", flat=True)) == sorted(a.pk for a in closing.all)
    assert set(items.values_list("state", flat=True)) == {ItemState.OPEN}
    assert (
        closing.drawing_copy.closeout_item.closeout == co
    )  # the copy is on the list as well as its original
    event = AuditEvent.objects.get(action="closeout.open")
    assert event.summary["added"] == 6 and event.summary["total"] == 6


def test_opening_is_refused_before_the_contract_is_closing(world, ledger):
    with pytest.raises(Conflict) as info:
        services.open_closeout(world.contract, acting_user=world.manager)
    assert (info.value.code, info.value.clause, info.value.status) == ("contract_not_closing", "R2.5", 409)
    assert not CloseOut.objects.exists()


def test_opening_twice_with_nothing_new_is_a_conflict(world, opened):
    with pytest.raises(Conflict) as info:
        services.open_closeout(world.contract, acting_user=world.orderer)
    assert info.value.code == "closeout_already_open"


def test_staff_cannot_open_and_outsiders_do_not_learn_of_the_contract(world, closing):
    with pytest.raises(Forbidden):
        services.open_closeout(world.contract, acting_user=world.staff)
    with pytest.raises(Forbidden):
        services.open_closeout(world.contract, acting_user=world.auditor)
    with pytest.raises(NotFound):
        services.open_closeout(world.contract, acting_user=world.outsider)


def test_information_registered_after_reopening_is_added_and_the_certificate_must_be_issued_again(
    world, opened
):
    co = CloseOut.objects.get()
    CloseOut.objects.filter(pk=co.pk).update(state=CloseOutState.CONFIRMED)
    core.transition_contract(world.contract, acting_user=world.orderer, to_status=Contract.Status.ACTIVE)
    late = register_asset(world.contract, acting_user=world.manager, data=paper(world, title="追加資料"))
    start_closing(world)
    with pytest.raises(Conflict) as info:
        close(world)
    assert info.value.code == "closeout_unresolved"
    services.open_closeout(world.contract, acting_user=world.manager)
    assert state_of(late) == (ItemState.OPEN, AssetState.HELD)
    co.refresh_from_db()
    assert co.state == CloseOutState.OPEN


# --- the contract cannot close while anything is open -------------------------------------------------------------


def test_closing_the_contract_without_a_closeout_is_refused(world, closing):
    with pytest.raises(Conflict) as info:
        close(world)
    assert (info.value.status, info.value.code, info.value.clause) == (409, "closeout_not_opened", "R2.5")
    world.contract.refresh_from_db()
    assert world.contract.status == Contract.Status.CLOSING


def test_closing_the_contract_with_open_items_is_refused_with_the_count_and_p9(world, opened):
    with pytest.raises(Conflict) as info:
        close(world)
    exc = info.value
    assert (exc.status, exc.code, exc.clause) == (409, "closeout_unresolved", "R2.5")
    assert "6件" in exc.message and "P9" in exc.message
    assert exc.extra == {"open_items": 6, "personal_open_items": 2, "clauses": ["R2.5", "P9"]}
    assert selectors.unresolved_items(world.contract).count() == 6


def test_a_contract_that_never_held_information_closes_without_a_closeout(world):
    core.transition_contract(world.contract, acting_user=world.manager, to_status=Contract.Status.ACTIVE)
    start_closing(world)
    assert close(world).status == Contract.Status.CLOSED


# --- (a) return: the orderer confirms receipt ----------------------------------------------------------------


def test_a_return_is_resolved_only_when_the_orderer_confirms_receipt(world, opened):
    ids = item_ids(opened.drawing, opened.drawing_copy)
    assert (
        services.hand_over(world.contract, acting_user=world.manager, item_ids=ids, note="発注者へ手渡し")
        == 2
    )
    assert state_of(opened.drawing) == (ItemState.HANDED_OVER, AssetState.HELD)
    assert selectors.unresolved_items(world.contract).filter(pk__in=ids).count() == 2
    with pytest.raises(Forbidden):
        services.confirm_receipt(world.contract, acting_user=world.manager, item_ids=ids)
    services.confirm_receipt(world.contract, acting_user=world.orderer, item_ids=ids, note="受領しました")
    assert state_of(opened.drawing) == (ItemState.RETURNED, AssetState.RETURNED)
    item = opened.drawing_copy.closeout_item
    assert item.confirmed_by == world.orderer and item.resolved_at is not None
    event = AuditEvent.objects.get(action="closeout.confirm_receipt")
    assert event.summary["refs"] == [opened.drawing.ref, opened.drawing_copy.ref]


def test_receipt_cannot_be_confirmed_before_the_hand_over(world, opened):
    with pytest.raises(Conflict) as info:
        services.confirm_receipt(world.contract, acting_user=world.orderer, item_ids=item_ids(opened.drawing))
    assert (info.value.code, info.value.clause) == ("invalid_item_state", "R2.5")


def test_the_orderer_sends_back_what_did_not_arrive_with_a_reason(world, opened):
    ids = item_ids(opened.drawing)
    services.hand_over(world.contract, acting_user=world.manager, item_ids=ids)
    with pytest.raises(Invalid):
        services.send_back(world.contract, acting_user=world.orderer, item_ids=ids, note=" ")
    services.send_back(world.contract, acting_user=world.orderer, item_ids=ids, note="受け取っていません")
    item = CloseOutItem.objects.get(pk=ids[0])
    assert item.state == ItemState.OPEN and item.sent_back_note == "受け取っていません"
    assert item.handed_over_at is None


def test_items_of_another_contract_are_unknown(world, opened):
    with pytest.raises(Invalid) as info:
        services.hand_over(world.contract, acting_user=world.manager, item_ids=[10**9])
    assert info.value.code == "unknown_item"
    with pytest.raises(Invalid):
        services.hand_over(world.contract, acting_user=world.manager, item_ids=[])


# --- (c) retention -----------------------------------------------------------------------------------------------


def test_personal_information_cannot_be_retained_without_the_orderers_instruction(world, opened):
    ids = item_ids(opened.residents)
    with pytest.raises(Forbidden) as info:
        services.propose_retention(
            world.contract, acting_user=world.manager, item_ids=ids, basis="会計検査のため", law="会計法"
        )
    assert (info.value.status, info.value.code, info.value.clause) == (403, "retention_not_instructed", "P9")
    assert opened.residents.ref in info.value.message
    assert state_of(opened.residents) == (ItemState.OPEN, AssetState.HELD)


def test_personal_information_is_retained_on_the_orderers_instruction_and_acknowledgement(world, opened):
    ids = item_ids(opened.residents)
    with pytest.raises(Forbidden):
        destruction.instruct(world.contract, acting_user=world.manager, kind="retention", item_ids=ids)
    permit = destruction.instruct(
        world.contract, acting_user=world.orderer, kind="retention", item_ids=ids, note="監査まで保存"
    )
    assert permit.decided_by == world.orderer and permit.state == "approved"
    services.propose_retention(
        world.contract,
        acting_user=world.manager,
        item_ids=ids,
        basis="会計実地検査まで保存する",
        law="契約書第48条",
        until=dt.date(2032, 3, 31),
    )
    assert state_of(opened.residents) == (ItemState.RETENTION_PROPOSED, AssetState.HELD)
    services.acknowledge_retention(world.contract, acting_user=world.orderer, item_ids=ids)
    assert state_of(opened.residents) == (ItemState.RETAINED, AssetState.RETAINED)
    assert opened.residents.closeout_item.instruction == permit


def test_retention_needs_the_legal_basis_and_the_orderers_acknowledgement(world, opened):
    ids = item_ids(opened.drawing)
    with pytest.raises(Invalid) as info:
        services.propose_retention(
            world.contract, acting_user=world.manager, item_ids=ids, basis="保存", law=""
        )
    assert (info.value.code, info.value.clause) == ("basis_required", "R2.5")
    services.propose_retention(
        world.contract,
        acting_user=world.manager,
        item_ids=ids,
        basis="設計図書の保存",
        law="公文書管理条例第5条",
    )
    assert selectors.unresolved_items(world.contract).filter(pk__in=ids).exists()
    with pytest.raises(Forbidden):
        services.acknowledge_retention(world.contract, acting_user=world.manager, item_ids=ids)


# --- (b) destruction -----------------------------------------------------------------------------------------------


def test_paper_is_destroyed_only_on_the_orderers_instruction_with_method_date_and_witness(world, opened):
    ids = item_ids(opened.drawing_copy)
    kwargs = dict(method="shredder", destroyed_on=TODAY, witness="総務課 倉敷 太郎")
    with pytest.raises(Forbidden) as info:
        destruction.destroy(world.contract, acting_user=world.manager, item_ids=ids, **kwargs)
    assert (info.value.code, info.value.clause) == ("destruction_not_instructed", "R2.5")
    destruction.instruct(world.contract, acting_user=world.orderer, kind="destruction", item_ids=ids)
    with pytest.raises(Invalid) as info:
        destruction.destroy(
            world.contract, acting_user=world.manager, item_ids=ids, **{**kwargs, "witness": ""}
        )
    assert info.value.code == "witness_required"
    with pytest.raises(Invalid) as info:
        destruction.destroy(
            world.contract, acting_user=world.manager, item_ids=ids, **{**kwargs, "method": "data_erasure"}
        )
    assert info.value.code == "method_not_for_medium"
    destruction.destroy(world.contract, acting_user=world.manager, item_ids=ids, **kwargs)
    item = CloseOutItem.objects.get(pk=ids[0])
    assert (item.state, item.destruction_method, item.witness) == (
        "destroyed",
        "shredder",
        "総務課 倉敷 太郎",
    )
    assert state_of(opened.drawing_copy) == (ItemState.DESTROYED, AssetState.DESTROYED)


def test_destroying_personal_information_without_instruction_names_p9(world, opened):
    with pytest.raises(Forbidden) as info:
        destruction.destroy(
            world.contract,
            acting_user=world.manager,
            item_ids=item_ids(opened.residents),
            method="dissolution",
            destroyed_on=TODAY,
            witness="立会人",
        )
    assert (info.value.code, info.value.clause) == ("destruction_not_instructed", "P9")


def test_a_destruction_permit_asked_for_by_the_contractor_is_an_instruction_too(world, opened):
    from .conftest import approved_permit

    approved_permit(world, "destruction", [opened.notes])
    destruction.destroy(
        world.contract,
        acting_user=world.manager,
        item_ids=item_ids(opened.notes),
        method="data_erasure",
        destroyed_on=TODAY,
        witness="情報システム課 児島",
    )
    assert state_of(opened.notes) == (ItemState.DESTROYED, AssetState.DESTROYED)


def test_vault_content_is_destroyed_by_crypto_shredding_only(world, opened):
    ids = item_ids(opened.report)
    destruction.instruct(world.contract, acting_user=world.orderer, kind="destruction", item_ids=ids)
    with pytest.raises(Conflict) as info:
        destruction.destroy(
            world.contract,
            acting_user=world.manager,
            item_ids=ids,
            method="data_erasure",
            destroyed_on=TODAY,
            witness="x",
        )
    assert (info.value.code, info.value.clause) == ("use_crypto_shredding", "R2.5")


def test_crypto_shredded_copies_cannot_be_read_from_the_vault_afterwards(world, opened, vault_dirs):
    from sekisho.vault import crypto
    from sekisho.vault.keystore import LocalKeyService
    from sekisho.vault.models import VaultObject
    from sekisho.vault.services import object_context
    from tests.vault.helpers import get

    assert get(opened.report, world.staff, opened.pc) == b"REPORT " * 2000
    ids = item_ids(opened.report, opened.photos)
    permit = destruction.instruct(world.contract, acting_user=world.orderer, kind="destruction", item_ids=ids)
    with pytest.raises(Forbidden):
        destruction.shred_vault(world.contract, acting_user=world.orderer, permit_id=permit.pk)
    shredding = destruction.shred_vault(world.contract, acting_user=world.manager, permit_id=permit.pk)
    for asset in (opened.report, opened.photos):
        assert state_of(asset) == (ItemState.DESTROYED, AssetState.DESTROYED)
        item = asset.closeout_item
        assert (item.destruction_method, item.shredding, item.instruction) == (
            "crypto_shredding",
            shredding,
            permit,
        )
        with pytest.raises(Conflict) as info:
            get(asset, world.staff, opened.pc)
        assert info.value.clause == "R2.5"
    # Not even the raw blobs open with any key store location there is.
    import io

    for obj in VaultObject.objects.filter(contract=world.contract):
        blob = (vault_dirs / "vault" / obj.storage_key).read_bytes()
        for directory in ("keys", "key-backup-a", "key-backup-b"):
            keys = LocalKeyService(vault_dirs / directory, vault_dirs / "master.key")
            with pytest.raises(crypto.KeyUnavailable):
                list(
                    crypto.decrypt_stream(
                        io.BytesIO(blob).read,
                        keys=keys,
                        contract_id=obj.contract_id,
                        object_id=obj.uid,
                        context=object_context(obj),
                    )
                )


def test_shredding_waits_until_no_vault_item_awaits_the_orderer(world, opened):
    services.hand_over(world.contract, acting_user=world.manager, item_ids=item_ids(opened.photos))
    permit = destruction.instruct(
        world.contract, acting_user=world.orderer, kind="destruction", item_ids=item_ids(opened.report)
    )
    with pytest.raises(Conflict) as info:
        destruction.shred_vault(world.contract, acting_user=world.manager, permit_id=permit.pk)
    assert info.value.code == "vault_items_not_open"


def test_returned_vault_content_needs_no_destruction_instruction_before_the_key_goes(world, opened):
    photos = item_ids(opened.photos)
    services.hand_over(world.contract, acting_user=world.manager, item_ids=photos, note="暗号化USBで手渡し")
    services.confirm_receipt(world.contract, acting_user=world.orderer, item_ids=photos)
    permit = destruction.instruct(
        world.contract, acting_user=world.orderer, kind="destruction", item_ids=item_ids(opened.report)
    )
    destruction.shred_vault(world.contract, acting_user=world.manager, permit_id=permit.pk)
    assert state_of(opened.photos) == (ItemState.RETURNED, AssetState.RETURNED)
    assert state_of(opened.report) == (ItemState.DESTROYED, AssetState.DESTROYED)


# --- the whole close-out ---------------------------------------------------------------------------------------


def test_the_certificate_needs_every_item_resolved_and_records_its_sha256(world, opened):
    import hashlib

    with pytest.raises(Conflict) as info:
        certificate.issue_certificate(world.contract, acting_user=world.manager)
    assert (info.value.code, info.value.clause) == ("closeout_unresolved", "R2.5")
    resolve_everything(world, opened)
    with pytest.raises(Forbidden):
        certificate.issue_certificate(world.contract, acting_user=world.orderer)
    issued = certificate.issue_certificate(world.contract, acting_user=world.manager)
    with pytest.raises(Conflict) as info:
        close(world)
    assert info.value.code == "certificate_not_confirmed"
    with pytest.raises(Forbidden):
        certificate.confirm_certificate(world.contract, acting_user=world.manager)
    final = certificate.confirm_certificate(world.contract, acting_user=world.orderer, note="確認しました")
    for cert, action in ((issued, "closeout.certificate.issue"), (final, "closeout.certificate.confirm")):
        event = AuditEvent.objects.get(action=action)
        assert event.summary["pdf_sha256"] == hashlib.sha256(bytes(cert.pdf)).hexdigest()
        assert event.summary["docx_sha256"] == hashlib.sha256(bytes(cert.docx)).hexdigest()
        assert event.summary["items"] == 6
    assert close(world).status == Contract.Status.CLOSED


def test_bulk_resolution_of_many_items_costs_a_bounded_number_of_queries(
    world, closing, django_assert_max_num_queries
):
    core.transition_contract(world.contract, acting_user=world.orderer, to_status=Contract.Status.ACTIVE)
    from sekisho.ledger.models import Asset
    from sekisho.ledger.services import build_asset, next_refs

    refs = next_refs(world.contract, 1200)
    Asset.objects.bulk_create(
        [
            build_asset(world.contract, paper(world, title=f"図面 {n}"), ref=ref, acting_user=world.manager)
            for n, ref in enumerate(refs)
        ]
    )
    start_closing(world)
    services.open_closeout(world.contract, acting_user=world.manager)
    ids = list(CloseOutItem.objects.filter(asset__ref__in=refs).order_by("pk").values_list("pk", flat=True))
    assert len(ids) == 1200
    with django_assert_max_num_queries(40):
        services.hand_over(world.contract, acting_user=world.manager, item_ids=ids, note="一括返却")
    with django_assert_max_num_queries(40):
        services.confirm_receipt(world.contract, acting_user=world.orderer, item_ids=ids)
    assert not Asset.objects.filter(ref__in=refs).exclude(state=AssetState.RETURNED).exists()
    assert AuditEvent.objects.filter(action="closeout.confirm_receipt").get().summary["count"] == 1200


def test_an_item_in_transit_cannot_be_resolved(world, opened):
    from sekisho.ledger.models import Asset

    Asset.objects.filter(pk=opened.notes.pk).update(state=AssetState.IN_TRANSIT)
    with pytest.raises(Conflict) as info:
        services.hand_over(world.contract, acting_user=world.manager, item_ids=item_ids(opened.notes))
    assert info.value.code == "asset_in_transit"
