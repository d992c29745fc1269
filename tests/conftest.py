"""Shared personas. Every test speaks of the same people:

- ``orderer``   the city's orderer officer (発注者担当) of the main contract
- ``manager``   the contractor's information manager (情報管理責任者)
- ``staff``     contractor staff
- ``sub_staff`` a subcontractor's staff member (role staff, organisation the subcontractor)
- ``auditor``   reads everything of the contract, changes nothing
- ``outsider``  the information manager of *another* contract: must never learn the main contract exists
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.test import Client

from sekisho.core import services
from sekisho.core.models import Contract, Organisation, Role, User

from .assets import DAY, TODAY, paper
from .factories import PERIOD, OrganisationFactory, UserFactory
from .people.clearing import clear_world


@pytest.fixture(autouse=True)
def _japanese_by_default():
    """Each test starts in Japanese, whatever language an earlier test's request activated on this thread."""
    from django.utils import translation

    translation.activate("ja")
    yield
    translation.activate("ja")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings, request):
    # Argon2 is the production hasher (tested in tests/core/test_auth.py); tests that only need *a* password
    # use a fast one so the suite stays quick.
    if "argon2" not in request.keywords:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _tasks_run_at_once(settings):
    # Background tasks (e-mail) run in the test's own process the moment they are queued, so a test sees their
    # effect (mail.outbox) without a worker. tests/ops_prod runs the database backend and its real worker.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@dataclass
class World:
    admin: User
    orderer_org: Organisation
    contractor_org: Organisation
    sub_org: Organisation
    other_org: Organisation
    contract: Contract
    other_contract: Contract
    orderer: User
    manager: User
    staff: User
    sub_staff: User
    auditor: User
    outsider: User


@pytest.fixture
def world(db) -> World:
    admin = services.system_account()
    orderer_org = OrganisationFactory(name="倉敷市環境局下水道部", kind=Organisation.Kind.ORDERER)
    contractor_org = OrganisationFactory(name="株式会社テスト設計", kind=Organisation.Kind.CONTRACTOR)
    sub_org = OrganisationFactory(name="有限会社テスト測量", kind=Organisation.Kind.SUBCONTRACTOR)
    other_org = OrganisationFactory(name="他社コンサルタント", kind=Organisation.Kind.CONTRACTOR)
    contract = services.create_contract(
        acting_user=admin,
        number="T-001",
        title="下水道管渠調査設計業務",
        orderer=orderer_org,
        contractor=contractor_org,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    other = services.create_contract(
        acting_user=admin,
        number="T-002",
        title="ポンプ場設計業務",
        orderer=orderer_org,
        contractor=other_org,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    orderer = UserFactory(username="orderer", organisation=orderer_org)
    manager = UserFactory(username="manager", organisation=contractor_org)
    staff = UserFactory(username="staff", organisation=contractor_org)
    sub_staff = UserFactory(username="sub_staff", organisation=sub_org)
    auditor = UserFactory(username="auditor", organisation=orderer_org)
    outsider = UserFactory(username="outsider", organisation=other_org)
    services.appoint_lead(contract, acting_user=admin, user=orderer, role=Role.ORDERER)
    services.appoint_lead(contract, acting_user=admin, user=manager, role=Role.MANAGER)
    services.appoint_lead(other, acting_user=admin, user=outsider, role=Role.MANAGER)
    services.add_member(contract, acting_user=manager, user=staff, role=Role.STAFF)
    services.add_member(contract, acting_user=manager, user=sub_staff, role=Role.STAFF)
    services.add_member(contract, acting_user=orderer, user=auditor, role=Role.AUDITOR)
    world = World(
        admin,
        orderer_org,
        contractor_org,
        sub_org,
        other_org,
        contract,
        other,
        orderer,
        manager,
        staff,
        sub_staff,
        auditor,
        outsider,
    )
    # The members are cleared for information: roster, training acknowledged, subcontract permitted and
    # flowed down, pledge signed (R2.4.1, R2.4.3, R2.6.1). Tests of the refusals use new, uncleared people.
    clear_world(world)
    return world


PERSONAS = ("orderer", "manager", "staff", "sub_staff", "auditor", "outsider")


def verified_client(user: User) -> Client:
    """A browser session that has passed password and second factor (as if OTP-verified)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="test", confirmed=True
    )
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def client_for(world):
    def make(name: str) -> Client:
        return verified_client(getattr(world, name))

    return make


# --- ledger assets and permits (tests/assets.py) ------------------------------------------------------------


@pytest.fixture
def freeze_today(monkeypatch):
    """Pin "today" inside the contract period, so validity windows do not depend on the day the suite runs."""
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    return TODAY


@pytest.fixture
def drawing(world):
    """A paper drawing the orderer lent: copying it needs a permit (R2.3)."""
    from sekisho.ledger.services import register_asset

    return register_asset(world.contract, acting_user=world.manager, data=paper(world))


@pytest.fixture
def copy_permit(world, drawing, freeze_today):
    from sekisho.permits import services as permits

    permit = permits.request_permit(
        world.contract,
        acting_user=world.staff,
        kind="copy",
        assets=[drawing],
        reason="現地調査用に1部スキャン",
        copies=1,
        valid_from=DAY,
        valid_until=dt.date(2026, 12, 28),
    )
    return permits.decide_permit(permit, acting_user=world.orderer, approve=True, note="承諾します")
