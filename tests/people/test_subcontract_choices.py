"""R2.4.3: asking for a subcontract offers the subcontractors this contract and its contractor work with — never
another contract's — and a subcontractor new to them is named, not picked from the deployment's list."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from sekisho.audit.models import AuditEvent
from sekisho.core import services as core
from sekisho.core.auth import issue_api_token
from sekisho.core.errors import Invalid
from sekisho.core.models import Contract, Organisation, Role
from sekisho.people import selectors, subcontracts
from sekisho.people.models import Subcontract

from ..conftest import verified_client
from ..factories import PERIOD

pytestmark = pytest.mark.django_db

ASK = {
    "scope": "管路の清掃",
    "responsible_name": "下請 責任者",
    "reason": "清掃の専門業者に委託",
    "valid_from": PERIOD[0].isoformat(),
    "valid_until": PERIOD[1].isoformat(),
}


def _ask(contract: Contract, user, **organisation):
    return subcontracts.request_subcontract(
        contract,
        acting_user=user,
        scope=ASK["scope"],
        responsible_name=ASK["responsible_name"],
        reason=ASK["reason"],
        valid_from=PERIOD[0],
        valid_until=PERIOD[1],
        **organisation,
    )


@pytest.fixture
def outsiders_sub(world) -> Organisation:
    """A subcontractor of the outsider's contract (another contractor): none of the main contract's business."""
    return _ask(world.other_contract, world.outsider, new_organisation="株式会社他社の下請").organisation


@pytest.fixture
def sister_contract(world) -> Contract:
    """Another contract of the main contract's contractor, with a subcontractor of its own."""
    contract = core.create_contract(
        acting_user=world.admin,
        number="T-003",
        title="処理場設備点検業務",
        orderer=world.orderer_org,
        contractor=world.contractor_org,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    core.appoint_lead(contract, acting_user=world.admin, user=world.manager, role=Role.MANAGER)
    _ask(contract, world.manager, new_organisation="株式会社いつもの下請")
    return contract


def _api(user) -> Client:
    _token, text = issue_api_token(user, acting_user=user, name="t")
    return Client(headers={"Authorization": f"Bearer {text}"})


def _url(world) -> str:
    return f"/api/v1/contracts/{world.contract.pk}/people/subcontracts"


def test_the_form_offers_this_contracts_and_this_contractors_subcontractors_only(
    world, outsiders_sub, sister_contract, other_sub_org
):
    page = verified_client(world.manager).get(reverse("people:subcontracts", args=[world.contract.pk]))
    assert page.status_code == 200
    options = page.context["form"].fields["organisation"].choices
    names = {name for pk, name in options if pk}
    assert names == {world.sub_org.name, "株式会社いつもの下請"}
    html = page.content.decode()
    assert outsiders_sub.name not in html, "another contractor's subcontractor leaked"
    assert other_sub_org.name not in html, "a subcontractor nobody here works with leaked"
    assert 'name="new_organisation"' in html


def test_choices_follow_members_and_the_roster_too(world, newcomer, other_sub_org):
    assert other_sub_org not in selectors.subcontractor_choices(world.contract)
    newcomer(other_sub_org)  # a member from that subcontractor: now it works on this contract
    assert other_sub_org in selectors.subcontractor_choices(world.contract)
    assert world.contractor_org not in selectors.subcontractor_choices(world.contract), "not a subcontractor"


def test_posting_another_contracts_subcontractor_through_the_form_is_refused(world, outsiders_sub):
    browser = verified_client(world.manager)
    response = browser.post(
        reverse("people:subcontract-request", args=[world.contract.pk]),
        {**ASK, "organisation": outsiders_sub.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert "入力内容が正しくありません" in response.content.decode()
    assert not Subcontract.objects.filter(contract=world.contract, organisation=outsiders_sub).exists()


def test_the_api_treats_another_contracts_subcontractor_as_not_found(world, outsiders_sub):
    api = _api(world.manager)
    unknown = api.post(_url(world), {**ASK, "organisation_id": 999_999}, content_type="application/json")
    foreign = api.post(
        _url(world), {**ASK, "organisation_id": outsiders_sub.pk}, content_type="application/json"
    )
    assert unknown.status_code == foreign.status_code == 422
    assert unknown.json() == foreign.json()
    assert foreign.json()["error"] == "unknown_organisation"
    assert not Subcontract.objects.filter(contract=world.contract, organisation=outsiders_sub).exists()


def test_the_api_accepts_a_subcontractor_of_the_same_contractor(world, sister_contract, freeze_today):
    org = Organisation.objects.get(name="株式会社いつもの下請")
    response = _api(world.manager).post(
        _url(world), {**ASK, "organisation_id": org.pk}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["organisation"] == "株式会社いつもの下請"


def test_naming_a_new_subcontractor_creates_it_once_and_records_it(world, freeze_today):
    browser = verified_client(world.manager)
    response = browser.post(
        reverse("people:subcontract-request", args=[world.contract.pk]),
        {**ASK, "new_organisation": "  株式会社　新しい 下請  "},
    )
    assert response.status_code == 302
    org = Organisation.objects.get(name="株式会社　新しい 下請")
    assert org.kind == Organisation.Kind.SUBCONTRACTOR
    sub = Subcontract.objects.get(contract=world.contract, organisation=org)
    assert sub.permit.recipient == org.name
    event = AuditEvent.objects.filter(contract=world.contract, action="organisation.create").get()
    assert event.summary["name"] == org.name and event.actor_id == world.manager.pk
    # Now one of this contract's subcontractors: offered in the list from here on.
    assert org in selectors.subcontractor_choices(world.contract)


def test_naming_an_existing_subcontractor_uses_it_without_a_duplicate(world, other_sub_org, freeze_today):
    sub = _ask(world.contract, world.manager, new_organisation=other_sub_org.name)
    assert sub.organisation == other_sub_org
    assert Organisation.objects.filter(name=other_sub_org.name).count() == 1
    assert not AuditEvent.objects.filter(action="organisation.create").exists()


def test_naming_an_organisation_that_is_not_a_subcontractor_is_refused(world):
    with pytest.raises(Invalid) as exc:
        _ask(world.contract, world.manager, new_organisation=world.other_org.name)
    assert exc.value.clause == "R2.4.3"
    assert not Subcontract.objects.filter(organisation=world.other_org).exists()


@pytest.mark.parametrize(
    "organisation", [{}, {"organisation_id": "sub", "organisation_name": "株式会社二重"}]
)
def test_the_api_needs_exactly_one_of_a_choice_or_a_name(world, organisation):
    body = {**ASK, **{k: (world.sub_org.pk if v == "sub" else v) for k, v in organisation.items()}}
    response = _api(world.manager).post(_url(world), body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["clause"] == "R2.4.3"
    assert not Organisation.objects.filter(name="株式会社二重").exists()


def test_staff_cannot_name_subcontractors(world):
    response = _api(world.staff).post(
        _url(world), {**ASK, "organisation_name": "株式会社勝手な下請"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not Organisation.objects.filter(name="株式会社勝手な下請").exists()
