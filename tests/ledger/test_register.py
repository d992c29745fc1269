from __future__ import annotations

import datetime as dt

import pytest

from sekisho.audit.models import AuditEvent
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.ledger.models import Asset, LocationKind, Medium, Origin
from sekisho.ledger.services import register_asset
from sekisho.permits import services as permits
from sekisho.permits.models import PermitState
from tests.assets import DAY, electronic, paper

pytestmark = pytest.mark.django_db


def _count():
    return Asset.objects.count(), AuditEvent.objects.count()


def test_staff_registers_a_provided_paper_drawing_with_a_ledger_number(world):
    asset = register_asset(world.contract, acting_user=world.staff, data=paper(world))
    assert asset.ref == "A-000001"
    assert asset.root_id is None
    event = AuditEvent.objects.filter(contract=world.contract).latest("index")
    assert (event.action, event.summary["ref"]) == ("asset.register", "A-000001")


@pytest.mark.parametrize("persona", ["orderer", "auditor"])
def test_orderer_and_auditor_do_not_register(world, persona):
    with pytest.raises(Forbidden):
        register_asset(world.contract, acting_user=getattr(world, persona), data=paper(world))


def test_outsider_cannot_register_into_another_contract(world):
    with pytest.raises(NotFound):
        register_asset(world.contract, acting_user=world.outsider, data=paper(world))


def test_scan_of_a_paper_drawing_without_permit_is_refused_and_leaves_nothing(world, drawing, freeze_today):
    before = _count()
    with pytest.raises(Forbidden) as exc:
        register_asset(
            world.contract,
            acting_user=world.staff,
            data=electronic(world, origin=Origin.COPY, parent=drawing, title="台帳図スキャン"),
        )
    assert exc.value.clause == "R2.3"
    assert exc.value.code == "copy_not_permitted"
    assert _count() == before


def test_scan_under_an_approved_permit_becomes_a_child_and_uses_the_permit(world, drawing, copy_permit):
    scan = register_asset(
        world.contract,
        acting_user=world.staff,
        data=electronic(world, origin=Origin.COPY, parent=drawing, title="台帳図スキャン"),
    )
    assert (scan.parent, scan.root, scan.permit) == (drawing, drawing, copy_permit)
    copy_permit.refresh_from_db()
    assert copy_permit.state == PermitState.USED


def test_copies_beyond_the_permits_count_are_refused_with_the_clause(world, drawing, copy_permit):
    data = electronic(world, origin=Origin.COPY, parent=drawing, title="台帳図スキャン")
    register_asset(world.contract, acting_user=world.staff, data=data)
    before = _count()
    with pytest.raises(Forbidden) as exc:
        register_asset(world.contract, acting_user=world.staff, data=data)
    assert exc.value.clause == "R2.3"
    assert "部数" in exc.value.message
    assert _count() == before


def test_two_copies_allowed_then_refused(world, drawing, freeze_today):
    permit = permits.request_permit(
        world.contract,
        acting_user=world.staff,
        kind="copy",
        assets=[drawing],
        reason="2部",
        copies=2,
        valid_from=DAY,
        valid_until=dt.date(2026, 12, 1),
    )
    permits.decide_permit(permit, acting_user=world.orderer, approve=True)
    data = paper(world, origin=Origin.COPY, parent=drawing, title="台帳図コピー")
    register_asset(world.contract, acting_user=world.staff, data=data)
    permit.refresh_from_db()
    assert permit.state == PermitState.APPROVED
    register_asset(world.contract, acting_user=world.staff, data=data)
    with pytest.raises(Forbidden):
        register_asset(world.contract, acting_user=world.staff, data=data)


@pytest.mark.parametrize("state", ["requested", "denied", "revoked", "expired"])
def test_permit_that_is_not_in_force_does_not_allow_a_copy(world, drawing, freeze_today, state):
    permit = permits.request_permit(
        world.contract,
        acting_user=world.staff,
        kind="copy",
        assets=[drawing],
        reason="r",
        copies=3,
        valid_from=DAY,
        valid_until=dt.date(2026, 12, 1),
    )
    if state == "denied":
        permits.decide_permit(permit, acting_user=world.orderer, approve=False, note="不要")
    elif state == "revoked":
        permits.decide_permit(permit, acting_user=world.orderer, approve=True)
        permits.revoke_permit(permit, acting_user=world.orderer, note="取消")
    elif state == "expired":
        permits.decide_permit(permit, acting_user=world.orderer, approve=True)
        permits.expire_permits(today=dt.date(2026, 12, 2))
    with pytest.raises(Forbidden) as exc:
        register_asset(
            world.contract, acting_user=world.staff, data=paper(world, origin=Origin.COPY, parent=drawing)
        )
    assert exc.value.clause == "R2.3"


def test_permit_outside_its_validity_window_does_not_allow_a_copy(world, drawing, monkeypatch, freeze_today):
    permit = permits.request_permit(
        world.contract,
        acting_user=world.staff,
        kind="copy",
        assets=[drawing],
        reason="r",
        copies=3,
        valid_from=dt.date(2026, 9, 1),
        valid_until=dt.date(2026, 12, 1),
    )
    permits.decide_permit(permit, acting_user=world.orderer, approve=True)
    with pytest.raises(Forbidden):  # "today" is 2026-08-03, before the window opens
        register_asset(
            world.contract, acting_user=world.staff, data=paper(world, origin=Origin.COPY, parent=drawing)
        )


def test_permit_for_another_asset_does_not_cover_this_one(world, drawing, copy_permit):
    other = register_asset(world.contract, acting_user=world.manager, data=paper(world, title="別の図面"))
    with pytest.raises(Forbidden):
        register_asset(
            world.contract,
            acting_user=world.staff,
            data=paper(world, origin=Origin.COPY, parent=other),
            permit=copy_permit,
        )


def test_copy_of_lent_personal_information_needs_a_permit_in_any_medium(world, freeze_today):
    roster = register_asset(
        world.contract,
        acting_user=world.manager,
        data=electronic(
            world,
            title="下水道使用者名簿",
            has_personal_info=True,
            personal_categories=["name", "address"],
            personal_count=320,
            personal_purpose="排水設備調査の立会い依頼",
            personal_necessity="対象世帯への連絡",
        ),
    )
    with pytest.raises(Forbidden) as exc:
        register_asset(
            world.contract,
            acting_user=world.staff,
            data=electronic(
                world,
                origin=Origin.COPY,
                parent=roster,
                title="名簿の写し",
                has_personal_info=True,
                personal_categories=["name"],
                personal_count=320,
                personal_purpose="同上",
                personal_necessity="同上",
            ),
        )
    assert exc.value.clause == "P7"


def test_copy_of_contractor_made_electronic_data_needs_no_permit(world):
    report = register_asset(
        world.contract,
        acting_user=world.staff,
        data=electronic(world, origin=Origin.DERIVED, title="調査報告書（案）"),
    )
    copy = register_asset(
        world.contract,
        acting_user=world.staff,
        data=electronic(world, origin=Origin.COPY, parent=report, title="報告書（案）バックアップ"),
    )
    assert copy.permit is None


def test_personal_information_without_a_purpose_is_refused_with_p5(world):
    before = _count()
    with pytest.raises(Invalid) as exc:
        register_asset(
            world.contract,
            acting_user=world.staff,
            data=electronic(world, has_personal_info=True, personal_categories=["name"], personal_count=10),
        )
    assert exc.value.clause == "P5"
    fields = {e.field for e in exc.value.field_errors}
    assert {"personal_purpose", "personal_necessity"} <= fields
    assert _count() == before


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"received_on": dt.date(2026, 5, 31)}, "received_on"),
        ({"received_on": dt.date(2027, 3, 20)}, "received_on"),
        ({"title": "  "}, "title"),
        ({"quantity": None}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"location_kind": LocationKind.VAULT}, "location_kind"),
        ({"confidentiality": 4}, "confidentiality"),
        ({"integrity": 0}, "integrity"),
        ({"availability": 3}, "availability"),
        ({"origin": Origin.COPY}, "parent"),
        ({"medium": "stone"}, "medium"),
        ({"personal_categories": ["name"]}, "has_personal_info"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(world, over, field):
    before = _count()
    with pytest.raises(Invalid) as exc:
        register_asset(world.contract, acting_user=world.staff, data=paper(world, **over))
    assert field in {e.field for e in exc.value.field_errors}
    assert _count() == before


def test_important_electronic_information_outside_the_vault_is_refused(world):
    with pytest.raises(Invalid) as exc:
        register_asset(
            world.contract,
            acting_user=world.staff,
            data=electronic(world, important=True, location_kind=LocationKind.DEVICE, location="PC-012"),
        )
    assert exc.value.clause == "R2.7ウ"


def test_custodian_must_be_a_contractor_member_of_the_contract(world):
    for custodian in (world.orderer, world.outsider):
        with pytest.raises(Invalid):
            register_asset(world.contract, acting_user=world.staff, data=paper(world, custodian=custodian))


def test_parent_from_another_contract_is_unknown(world):
    foreign = register_asset(
        world.other_contract, acting_user=world.outsider, data=paper(world, custodian=world.outsider)
    )
    with pytest.raises(Invalid) as exc:
        register_asset(
            world.contract, acting_user=world.staff, data=paper(world, origin=Origin.DERIVED, parent=foreign)
        )
    assert "parent" in {e.field for e in exc.value.field_errors}


def test_closed_contract_takes_no_new_information(world):
    from sekisho.core import services as core

    for actor, to in ((world.manager, "active"), (world.orderer, "closing")):
        core.transition_contract(world.contract, acting_user=actor, to_status=to)
    with pytest.raises(Conflict):
        register_asset(world.contract, acting_user=world.staff, data=paper(world))


def test_lineage_keeps_the_root_through_generations(world, drawing, copy_permit):
    scan = register_asset(
        world.contract, acting_user=world.staff, data=electronic(world, origin=Origin.COPY, parent=drawing)
    )
    derived = register_asset(
        world.contract,
        acting_user=world.staff,
        data=electronic(world, origin=Origin.DERIVED, parent=scan, title="修正図"),
    )
    assert derived.root == drawing
    assert set(drawing.descendants.values_list("pk", flat=True)) == {scan.pk, derived.pk}


def test_lifecycle_end_states_only_through_close_out(world, drawing):
    from sekisho.ledger.services import move_asset

    move_asset(drawing, acting_user=world.manager, to_state="in_transit")
    move_asset(drawing, acting_user=world.manager, to_state="held")
    with pytest.raises(Conflict) as exc:
        move_asset(drawing, acting_user=world.manager, to_state="returned")
    assert exc.value.clause == "R2.5"
    with pytest.raises(Forbidden):
        move_asset(drawing, acting_user=world.staff, to_state="in_transit")
    assert drawing.medium == Medium.PAPER
