"""R2.4.3 / P8: subcontractor staff reach information only once the orderer permitted the subcontract and its
responsible person acknowledged the flow-down; personal information needs the orderer's own consent."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from sekisho.core import policy
from sekisho.core.auth import issue_api_token
from sekisho.core.errors import Conflict, Forbidden
from sekisho.ledger import selectors
from sekisho.ledger.models import LocationKind, Medium, Origin
from sekisho.ledger.services import AssetData, register_asset
from sekisho.people import services, subcontracts
from sekisho.people.models import Programme, Subcontract
from sekisho.permits import services as permits
from sekisho.permits.models import PermitState

from ..factories import PERIOD
from .clearing import permit_subcontract

pytestmark = pytest.mark.django_db


def _ask(world, org, responsible="下請 責任者", **kw):
    return subcontracts.request_subcontract(
        world.contract,
        acting_user=world.manager,
        organisation=org,
        scope="管路の清掃",
        responsible_name=responsible,
        reason="清掃の専門業者に委託",
        valid_from=PERIOD[0],
        valid_until=PERIOD[1],
        **kw,
    )


def _refusal(user, world, action="asset.view"):
    with pytest.raises(Forbidden) as exc:
        policy.require(user, action, world.contract)
    return exc.value


def test_subcontractor_staff_are_refused_until_permit_and_flowdown(
    world, listed, other_sub_org, freeze_today
):
    user, entry = listed(other_sub_org)
    services.acknowledge(
        Programme.objects.get(contract=world.contract), acting_user=user, typed_name=entry.name
    )  # trained: only the subcontract is missing
    refusal = _refusal(user, world)
    assert (refusal.code, refusal.clause) == ("subcontract_not_permitted", "R2.4.3")

    sub = _ask(world, other_sub_org, responsible=entry.name)
    refusal = _refusal(user, world)
    assert refusal.clause == "R2.4.3" and "申請中" in refusal.message

    permits.decide_permit(sub.permit, acting_user=world.orderer, approve=True, note="可")
    refusal = _refusal(user, world)
    assert (refusal.code, refusal.clause) == ("flowdown_required", "R2.4.3")

    subcontracts.acknowledge_flowdown(sub, acting_user=user, typed_name=entry.name)
    policy.require(user, "asset.view", world.contract)

    permits.revoke_permit(sub.permit, acting_user=world.orderer, note="取消")
    assert _refusal(user, world).clause == "R2.4.3"


def test_subcontractor_staff_also_need_the_training(world, listed, other_sub_org, freeze_today):
    user, entry = listed(other_sub_org)
    sub = permit_subcontract(world, other_sub_org, user)
    subcontracts.acknowledge_flowdown(sub, acting_user=world.manager, typed_name=entry.name)
    refusal = _refusal(user, world)
    assert (refusal.code, refusal.clause) == ("training_required", "R2.4.1")


def test_the_flowdown_is_signed_by_the_responsible_person_or_recorded_by_the_manager(
    world, newcomer, other_sub_org
):
    responsible = newcomer(other_sub_org)
    colleague = newcomer(other_sub_org)
    sub = _ask(world, other_sub_org, responsible=responsible.display_name)
    for someone in (colleague, world.staff):
        with pytest.raises(Forbidden) as exc:
            subcontracts.acknowledge_flowdown(sub, acting_user=someone, typed_name=responsible.display_name)
        assert exc.value.clause == "R2.4.3"
    with pytest.raises(Forbidden):
        subcontracts.acknowledge_flowdown(sub, acting_user=world.orderer, typed_name=responsible.display_name)
    subcontracts.acknowledge_flowdown(sub, acting_user=responsible, typed_name=responsible.display_name)
    sub.refresh_from_db()
    assert sub.flowdown_by == responsible and len(sub.flowdown_sha256) == 64


def test_asking_twice_is_a_conflict_until_the_first_is_denied(world, other_sub_org, freeze_today):
    sub = _ask(world, other_sub_org)
    with pytest.raises(Conflict):
        _ask(world, other_sub_org)
    permits.decide_permit(sub.permit, acting_user=world.orderer, approve=False, note="範囲が広すぎる")
    again = _ask(world, other_sub_org)
    assert again.pk == sub.pk and again.permit.state == PermitState.REQUESTED
    assert Subcontract.objects.filter(contract=world.contract).count() == 2


def _personal_asset(world, user, **over):
    values = dict(
        title="使用者名簿",
        medium=Medium.ELECTRONIC,
        origin=Origin.PROVIDED,
        received_on=dt.date(2026, 7, 1),
        custodian=world.staff,
        location_kind=LocationKind.VAULT,
        has_personal_info=True,
        personal_categories=["name", "address"],
        personal_count=120,
        personal_purpose="立会いの連絡",
        personal_necessity="連絡先が必要",
    )
    values.update(over)
    return register_asset(world.contract, acting_user=user, data=AssetData(**values))


def test_personal_information_is_hidden_from_subcontractor_staff_without_consent(world, freeze_today):
    pi = _personal_asset(world, world.manager)
    plain = _personal_asset(
        world,
        world.manager,
        title="管路図",
        has_personal_info=False,
        personal_categories=[],
        personal_count=None,
        personal_purpose="",
        personal_necessity="",
    )
    assert set(selectors.ledger(world.staff, world.contract)) == {pi, plain}
    assert list(selectors.ledger(world.sub_staff, world.contract)) == [plain]
    _token, text = issue_api_token(world.sub_staff, acting_user=world.sub_staff, name="t")
    api = Client(headers={"Authorization": f"Bearer {text}"})
    listed = api.get(f"/api/v1/contracts/{world.contract.pk}/assets").json()["items"]
    assert [a["title"] for a in listed] == ["管路図"]

    with pytest.raises(Forbidden) as exc:
        _personal_asset(world, world.sub_staff, title="立会い連絡先")
    assert (exc.value.code, exc.value.clause) == ("personal_info_not_consented", "P8")


def test_the_orderers_consent_opens_personal_information_to_the_subcontractor(world, freeze_today):
    pi = _personal_asset(world, world.manager)
    sub = Subcontract.objects.get(contract=world.contract, organisation=world.sub_org)
    sub = subcontracts.request_personal_info_consent(
        sub, acting_user=world.manager, reason="立会い連絡", valid_from=PERIOD[0], valid_until=PERIOD[1]
    )
    assert list(selectors.ledger(world.sub_staff, world.contract)) == []
    permits.decide_permit(sub.pi_permit, acting_user=world.orderer, approve=True, note="可")
    assert list(selectors.ledger(world.sub_staff, world.contract)) == [pi]
    _personal_asset(world, world.sub_staff, title="立会い連絡先")


def test_personal_information_consent_is_asked_with_the_subcontract(
    world, newcomer, other_sub_org, freeze_today
):
    user = newcomer(other_sub_org)
    sub = permit_subcontract(world, other_sub_org, user, personal_info=True)
    assert sub.pi_permit is not None and sub.pi_permit.state == PermitState.APPROVED
    assert sub.pi_permit.reason.startswith(subcontracts.PI_REASON_PREFIX)
    assert sub.permit_id != sub.pi_permit_id


def test_a_pi_asset_refuses_subcontractor_staff_through_the_gate_too(world, freeze_today):
    from sekisho.people.gates import require_cleared

    pi = _personal_asset(world, world.manager)
    with pytest.raises(Forbidden) as exc:
        require_cleared(world.sub_staff, world.contract, "staff", "asset.view", pi)
    assert exc.value.clause == "P8"
    require_cleared(world.staff, world.contract, "staff", "asset.view", pi)


def test_only_subcontractor_organisations_can_be_subcontracted(world):
    from sekisho.core.errors import Invalid

    with pytest.raises(Invalid) as exc:
        _ask(world, world.other_org)
    assert exc.value.clause == "R2.4.3"
