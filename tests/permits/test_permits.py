from __future__ import annotations

import datetime as dt

import pytest

from sekisho.audit.models import AuditEvent
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.ledger.services import register_asset
from sekisho.permits import services as permits
from sekisho.permits.models import Permit, PermitState, PermitUse
from tests.assets import DAY, paper

pytestmark = pytest.mark.django_db
END = dt.date(2026, 12, 28)


def _request(world, asset, kind="copy", by=None, **over):
    kwargs = dict(kind=kind, assets=[asset], reason="業務上必要", valid_from=DAY, valid_until=END)
    if kind == "copy":
        kwargs["copies"] = 1
    if kind in ("third_party", "transfer", "subcontract"):
        kwargs["recipient"] = "倉敷市下水道建設課 分室"
    if kind == "other_purpose":
        kwargs["purpose"] = "他業務の参考資料"
    kwargs.update(over)
    return permits.request_permit(world.contract, acting_user=by or world.staff, **kwargs)


@pytest.mark.parametrize("kind", ["copy", "other_purpose", "third_party", "retention", "destruction"])
def test_orderer_decides_orderer_kinds_and_manager_cannot(world, drawing, freeze_today, kind):
    permit = _request(world, drawing, kind)
    with pytest.raises(Forbidden) as exc:
        permits.decide_permit(permit, acting_user=world.manager, approve=True)
    assert exc.value.clause == permit.clause
    permits.decide_permit(permit, acting_user=world.orderer, approve=True)
    permit.refresh_from_db()
    assert (permit.state, permit.decided_by) == (PermitState.APPROVED, world.orderer)


def test_transfer_is_decided_by_the_information_manager(world, drawing, freeze_today):
    permit = _request(world, drawing, "transfer")
    with pytest.raises(Forbidden) as exc:
        permits.decide_permit(permit, acting_user=world.orderer, approve=True)
    assert exc.value.clause == "R2.7オ"
    permits.decide_permit(permit, acting_user=world.manager, approve=True)


def test_nobody_decides_their_own_request(world, drawing, freeze_today):
    permit = _request(world, drawing, "transfer", by=world.manager)
    with pytest.raises(Forbidden) as exc:
        permits.decide_permit(permit, acting_user=world.manager, approve=True)
    assert exc.value.code == "own_request"
    assert Permit.objects.get(pk=permit.pk).state == PermitState.REQUESTED


@pytest.mark.parametrize("persona", ["staff", "sub_staff", "auditor"])
def test_staff_and_auditor_cannot_decide(world, drawing, freeze_today, persona):
    permit = _request(world, drawing)
    with pytest.raises(Forbidden):
        permits.decide_permit(permit, acting_user=getattr(world, persona), approve=True)


def test_outsider_cannot_see_or_decide(world, drawing, freeze_today):
    permit = _request(world, drawing)
    with pytest.raises(NotFound):
        permits.decide_permit(permit, acting_user=world.outsider, approve=True)


def test_denial_needs_a_reason_and_is_final(world, drawing, freeze_today):
    permit = _request(world, drawing)
    with pytest.raises(Invalid):
        permits.decide_permit(permit, acting_user=world.orderer, approve=False)
    permits.decide_permit(permit, acting_user=world.orderer, approve=False, note="原本で対応可能")
    with pytest.raises(Conflict):
        permits.decide_permit(permit, acting_user=world.orderer, approve=True)


def test_a_decision_is_audited_with_its_note(world, drawing, freeze_today):
    permit = _request(world, drawing)
    permits.decide_permit(permit, acting_user=world.orderer, approve=True, conditions="作業終了後に廃棄")
    event = AuditEvent.objects.filter(
        contract=world.contract, action="permit.approve", object_id=str(permit.pk)
    ).get()
    assert event.summary["conditions"] == "作業終了後に廃棄"


@pytest.mark.parametrize(
    "over",
    [
        {"copies": None},
        {"copies": 0},
        {"copies": 100_000},
        {"reason": " "},
        {"valid_until": dt.date(2026, 6, 30)},
        {"valid_from": dt.date(2026, 5, 1)},
        {"valid_until": dt.date(2027, 4, 1)},
        {"assets": []},
        {"kind": "teleport"},
    ],
)
def test_bad_requests_are_refused_and_create_nothing(world, drawing, freeze_today, over):
    before = Permit.objects.count()
    with pytest.raises(Invalid):
        _request(world, drawing, **over)
    assert Permit.objects.count() == before


def test_request_naming_another_contracts_asset_is_refused(world, freeze_today):
    foreign = register_asset(
        world.other_contract, acting_user=world.outsider, data=paper(world, custodian=world.outsider)
    )
    with pytest.raises(Invalid):
        _request(world, foreign)


@pytest.mark.parametrize("persona", ["orderer", "auditor"])
def test_orderer_and_auditor_do_not_request(world, drawing, freeze_today, persona):
    with pytest.raises(Forbidden):
        _request(world, drawing, by=getattr(world, persona))


def test_other_purpose_use_needs_an_approved_permit_covering_the_asset(world, drawing, freeze_today):
    permit = _request(world, drawing, "other_purpose")
    with pytest.raises(Forbidden) as exc:
        permits.use_permit(permit, acting_user=world.staff, kind="other_purpose", assets=[drawing])
    assert exc.value.clause == "R2.2"
    assert not PermitUse.objects.exists()
    permits.decide_permit(permit, acting_user=world.orderer, approve=True)
    permits.use_permit(permit, acting_user=world.staff, kind="other_purpose", assets=[drawing], note="参考")
    assert PermitUse.objects.filter(permit=permit, asset=drawing).count() == 1
    other = register_asset(world.contract, acting_user=world.staff, data=paper(world, title="別資料"))
    with pytest.raises(Forbidden) as exc:
        permits.use_permit(permit, acting_user=world.staff, kind="other_purpose", assets=[other])
    assert exc.value.code == "asset_not_covered"


def test_third_party_provision_only_to_the_permitted_recipient(world, drawing, freeze_today):
    permit = _request(world, drawing, "third_party")
    permits.decide_permit(permit, acting_user=world.orderer, approve=True)
    with pytest.raises(Forbidden) as exc:
        permits.use_permit(
            permit, acting_user=world.staff, kind="third_party", assets=[drawing], recipient="知らない会社"
        )
    assert exc.value.clause == "P6"
    permits.use_permit(
        permit,
        acting_user=world.staff,
        kind="third_party",
        assets=[drawing],
        recipient="倉敷市下水道建設課 分室",
    )
    permit.refresh_from_db()
    assert permit.state == PermitState.USED
    with pytest.raises(Forbidden):  # used up
        permits.use_permit(
            permit,
            acting_user=world.staff,
            kind="third_party",
            assets=[drawing],
            recipient="倉敷市下水道建設課 分室",
        )


def test_a_permit_of_another_kind_does_not_allow_the_act(world, drawing, freeze_today):
    permit = _request(world, drawing, "other_purpose")
    permits.decide_permit(permit, acting_user=world.orderer, approve=True)
    with pytest.raises(Forbidden) as exc:
        permits.use_permit(
            permit,
            acting_user=world.staff,
            kind="third_party",
            assets=[drawing],
            recipient="倉敷市下水道建設課 分室",
        )
    assert exc.value.clause == "P6"


def test_revoked_permit_allows_nothing_more(world, drawing, freeze_today):
    permit = _request(world, drawing, "other_purpose")
    permits.decide_permit(permit, acting_user=world.orderer, approve=True)
    with pytest.raises(Invalid):
        permits.revoke_permit(permit, acting_user=world.orderer, note="")
    permits.revoke_permit(permit, acting_user=world.orderer, note="目的達成")
    with pytest.raises(Forbidden):
        permits.use_permit(permit, acting_user=world.staff, kind="other_purpose", assets=[drawing])


def test_expiry_marks_only_approved_permits_past_their_end(world, drawing, freeze_today):
    approved = _request(world, drawing, valid_until=dt.date(2026, 9, 30))
    permits.decide_permit(approved, acting_user=world.orderer, approve=True)
    pending = _request(world, drawing, valid_until=dt.date(2026, 9, 30))
    assert permits.expire_permits(today=dt.date(2026, 10, 1)) == 1
    approved.refresh_from_db()
    pending.refresh_from_db()
    assert (approved.state, pending.state) == (PermitState.EXPIRED, PermitState.REQUESTED)
    assert permits.expire_permits(today=dt.date(2026, 10, 1)) == 0
