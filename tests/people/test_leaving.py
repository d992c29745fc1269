"""R2.4.2 / P2 / P3: leaving ends access at its exact time — tokens, sessions, memberships (and for 退職 the
account) — while the roster keeps the person and the obligations continue."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from sekisho.audit.models import AuditEvent
from sekisho.core import policy
from sekisho.core import services as core
from sekisho.core.auth import issue_api_token
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.core.models import ApiToken, Membership, Role, User
from sekisho.people import documents, gates, services, texts
from sekisho.people.models import AppointmentKind, LeavingKind, RosterEntry

from ..conftest import verified_client
from ..tools import require_tool
from .clearing import clear_contract

pytestmark = pytest.mark.django_db


@pytest.fixture
def T() -> dt.datetime:
    """A leaving time a little in the future (sessions are still alive then); the tests move the clock."""
    return timezone.now().replace(microsecond=0) + dt.timedelta(minutes=10)


def _entry(world, user) -> RosterEntry:
    return RosterEntry.objects.get(contract=world.contract, user=user)


def test_a_future_leaving_takes_effect_at_the_exact_time_before_any_job_runs(world, clock, T):
    services.record_leaving(
        _entry(world, world.staff), acting_user=world.manager, left_at=T, kind=LeavingKind.RETIRED
    )
    clock(T - dt.timedelta(microseconds=1))
    policy.require(world.staff, "asset.view", world.contract)
    clock(T)
    with pytest.raises(Forbidden) as exc:
        policy.require(world.staff, "asset.view", world.contract)
    assert (exc.value.code, exc.value.clause) == ("left", "R2.4.2")
    # Nothing has been revoked yet: the gate alone refuses, at request time.
    assert Membership.objects.current().filter(user=world.staff, contract=world.contract).exists()


def test_the_tick_revokes_memberships_tokens_sessions_and_the_account(world, clock, T):
    issue_api_token(world.staff, acting_user=world.staff, name="script")
    browser = verified_client(world.staff)
    assert browser.get("/").status_code == 200
    services.record_leaving(
        _entry(world, world.staff), acting_user=world.manager, left_at=T, kind=LeavingKind.RETIRED
    )
    clock(T - dt.timedelta(seconds=1))
    assert services.process_due_leavers() == 0
    clock(T)
    assert services.process_due_leavers() == 1
    assert services.process_due_leavers() == 0, "done once"

    membership = Membership.objects.get(user=world.staff, contract=world.contract)
    assert membership.ended_at == T
    assert ApiToken.objects.get(user=world.staff).revoked_at == T
    assert not User.objects.get(pk=world.staff.pk).is_active
    assert not any(s.get_decoded().get("_auth_user_id") == str(world.staff.pk) for s in Session.objects.all())
    event = AuditEvent.objects.filter(contract=world.contract, action="people.access_revoked").get()
    assert event.summary["memberships_ended"] == ["staff"]
    assert event.summary["account_deactivated"] is True
    assert event.summary["sessions_deleted"] == 1
    # The roster keeps the person.
    assert _entry(world, world.staff).left_at == T


def test_leaving_now_revokes_at_once_and_the_api_and_browser_are_closed(world):
    _token, text = issue_api_token(world.staff, acting_user=world.staff, name="script")
    api = Client(headers={"Authorization": f"Bearer {text}"})
    assets = f"/api/v1/contracts/{world.contract.pk}/assets"
    assert api.get(assets).status_code == 200
    browser = verified_client(world.staff)
    services.record_leaving(
        _entry(world, world.staff),
        acting_user=world.manager,
        left_at=timezone.now(),
        kind=LeavingKind.REASSIGNED,
    )
    assert api.get(assets).status_code == 401
    assert browser.get("/")["Location"].startswith("/login/")
    with pytest.raises(NotFound):
        policy.require(world.staff, "contract.view", world.contract)
    assert User.objects.get(pk=world.staff.pk).is_active, "a reassignment keeps the account"


def test_a_retirement_recorded_in_one_contract_closes_the_others_at_once(world, clock, T):
    # staff also works on a second contract of the same contractor, cleared there
    second = core.create_contract(
        acting_user=world.admin,
        number="T-009",
        title="管渠更生設計業務",
        orderer=world.orderer_org,
        contractor=world.contractor_org,
        period_start=world.contract.period_start,
        period_end=world.contract.period_end,
    )
    core.appoint_lead(second, acting_user=world.admin, user=world.manager, role=Role.MANAGER)
    core.add_member(second, acting_user=world.manager, user=world.staff, role=Role.STAFF)
    clear_contract(second, world.manager, [world.staff])
    policy.require(world.staff, "asset.view", second)
    services.record_leaving(
        _entry(world, world.staff), acting_user=world.manager, left_at=T, kind=LeavingKind.RETIRED
    )
    clock(T)
    with pytest.raises(Forbidden) as exc:
        policy.require(world.staff, "asset.view", second)
    assert exc.value.clause == "R2.4.2"


def test_leaving_twice_is_a_conflict_and_only_the_manager_records_it(world):
    entry = _entry(world, world.staff)
    with pytest.raises(Forbidden):
        services.record_leaving(
            entry, acting_user=world.staff, left_at=timezone.now(), kind=LeavingKind.RETIRED
        )
    services.record_leaving(
        entry, acting_user=world.manager, left_at=timezone.now(), kind=LeavingKind.RETIRED
    )
    with pytest.raises(Conflict):
        services.record_leaving(
            entry, acting_user=world.manager, left_at=timezone.now(), kind=LeavingKind.RETIRED
        )


def test_the_leavers_acknowledgement_of_continuing_obligations(world):
    entry = _entry(world, world.staff)
    with pytest.raises(Conflict):
        services.acknowledge_exit_obligations(entry, acting_user=world.staff, typed_name=entry.name)
    services.record_leaving(
        entry,
        acting_user=world.manager,
        left_at=timezone.now() + dt.timedelta(days=7),
        kind=LeavingKind.RETIRED,
    )
    with pytest.raises(Invalid) as exc:
        services.acknowledge_exit_obligations(entry, acting_user=world.staff, typed_name="別人")
    assert exc.value.clause == "R2.4.2"
    # The leaver, still before the leaving time, signs it themself.
    services.acknowledge_exit_obligations(entry, acting_user=world.staff, typed_name=entry.name)
    entry.refresh_from_db()
    assert entry.exit_ack_sha256 == texts.sha256_text(texts.EXIT_OBLIGATIONS_TEXT)
    assert entry.exit_ack_recorded_by == world.staff
    event = AuditEvent.objects.filter(contract=world.contract, action="people.exit_acknowledge").get()
    assert event.summary["self"] is True


def test_the_leaving_of_the_information_manager_ends_the_appointment_and_the_pledge(world):
    entry = _entry(world, world.manager)
    services.record_leaving(
        entry, acting_user=world.manager, left_at=timezone.now(), kind=LeavingKind.REASSIGNED
    )
    assert AppointmentKind.INFO_MANAGER not in gates.current_appointments(world.contract)
    assert gates.current_pledge(world.contract) is None
    codes = [code for code, _clause, _m in gates.readiness_problems(world.contract)]
    assert "pledge_required" in codes


def test_tick_revokes_due_leavers_and_reports_it(world, clock, T, capsys):
    services.record_leaving(
        _entry(world, world.staff), acting_user=world.manager, left_at=T, kind=LeavingKind.RETIRED
    )
    clock(T + dt.timedelta(minutes=1))
    call_command("tick", "--only", "people.leavers")
    assert "1 leaver(s) revoked" in capsys.readouterr().out


def test_the_reminder_letter_names_the_leaver_and_the_obligations(world, tmp_path):
    entry = _entry(world, world.staff)
    services.record_leaving(
        entry,
        acting_user=world.manager,
        left_at=timezone.now(),
        kind=LeavingKind.RETIRED,
        exit_ack_name=entry.name,
    )
    entry.refresh_from_db()
    path = tmp_path / "letter.pdf"
    path.write_bytes(documents.leaver_letter_pdf(entry, manager_name=world.manager.display_name))
    text = subprocess.run(
        [require_tool("pdftotext"), str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert entry.name in text
    assert "守秘義務" in text
    assert world.contract.number in text
    assert texts.sha256_text(texts.EXIT_OBLIGATIONS_TEXT) in text


def test_a_leaving_not_yet_due_may_be_rescheduled_but_not_once_it_took_effect(world, clock, T):
    entry = _entry(world, world.staff)
    services.record_leaving(entry, acting_user=world.manager, left_at=T, kind=LeavingKind.RETIRED)
    later = T + dt.timedelta(days=1)
    services.record_leaving(entry, acting_user=world.manager, left_at=later, kind=LeavingKind.RETIRED)
    entry.refresh_from_db()
    assert entry.left_at == later
    clock(later)  # due, although the tick has not run yet
    with pytest.raises(Conflict):
        services.record_leaving(
            entry, acting_user=world.manager, left_at=later + dt.timedelta(days=30), kind="retired"
        )
