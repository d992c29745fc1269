"""Incident steps: who may report, the orderer notified at once (and e-mailed only after the commit), the
transition table, who investigates and who closes, facts and deadlines, reminders, the device-loss hook."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from sekisho.audit.models import AuditEvent
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.core.models import Membership, Role
from sekisho.incidents import reminders, services
from sekisho.incidents.deadlines import Key
from sekisho.incidents.models import INCIDENT_TRANSITIONS, WORKFLOW, DeadlineReminder, Incident, IncidentState
from sekisho.notifications.models import Notification

from .conftest import at, lost_usb, no_personal

pytestmark = pytest.mark.django_db


def events(incident: Incident) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="incidents.incident", object_id=str(incident.pk))
        .order_by("index")
        .values_list("action", flat=True)
    )


def walk_to(incident: Incident, state: str, world) -> Incident:
    """Move along the table with the right people, up to *state*."""
    steps = {
        IncidentState.INVESTIGATING: lambda i: services.start_investigation(i, acting_user=world.manager),
        IncidentState.CAUSE_IDENTIFIED: lambda i: services.record_cause(
            i, acting_user=world.manager, cause="鞄の口が開いていた", secondary_damage="確認されていない"
        ),
        IncidentState.CORRECTIVE: lambda i: services.record_corrective_measures(
            i, acting_user=world.manager, measures="警察へ遺失届", response_to_individuals="本人へ通知"
        ),
        IncidentState.PREVENTION: lambda i: services.record_prevention(
            i, acting_user=world.manager, prevention="暗号化USBメモリに限定"
        ),
    }
    for next_state in WORKFLOW[WORKFLOW.index(IncidentState(incident.state)) + 1 :]:
        if next_state not in steps:
            break
        incident = steps[next_state](incident)
        if next_state == state:
            break
    assert incident.state == state
    return incident


# --- reporting ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["orderer", "manager", "staff", "sub_staff"])
def test_anyone_of_the_contract_but_the_auditor_reports(world, persona):
    incident = services.report_incident(
        world.contract, acting_user=getattr(world, persona), data=no_personal()
    )
    assert incident.ref == "I-1"
    assert incident.reported_by == getattr(world, persona)


def test_the_auditor_reads_but_does_not_report(world):
    with pytest.raises(Forbidden) as refused:
        services.report_incident(world.contract, acting_user=world.auditor, data=no_personal())
    assert refused.value.clause == "R2.8.1"


def test_an_outsider_does_not_learn_the_contract_exists(world):
    with pytest.raises(NotFound):
        services.report_incident(world.contract, acting_user=world.outsider, data=no_personal())


def test_reporting_notifies_the_orderer_at_once_and_records_the_time_it_took(world):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    assert incident.state == IncidentState.ORDERER_NOTIFIED
    assert incident.notified_at is not None
    assert dt.timedelta(0) <= incident.time_to_notify < dt.timedelta(seconds=5)
    assert dt.timedelta(minutes=59) < incident.time_to_report < dt.timedelta(minutes=61)
    told = set(Notification.objects.filter(contract=world.contract).values_list("user__username", flat=True))
    assert told == {"orderer", "manager"}, (
        "the orderer officers, and the information manager who investigates"
    )
    assert events(incident) == ["incident.report", "incident.orderer_notified"]
    notified = AuditEvent.objects.get(action="incident.orderer_notified")
    assert notified.summary["to"] == ["orderer"]
    assert notified.summary["seconds_to_notify"] >= 0


def test_emails_are_sent_only_when_the_report_commits(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        incident = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
        assert mail.outbox == [], "nothing is sent inside the transaction"
    assert len(callbacks) == 1
    callbacks[0]()
    assert sorted(m.to[0] for m in mail.outbox) == [world.manager.email, world.orderer.email]
    message = mail.outbox[0]
    assert incident.ref in message.subject and world.contract.number in message.subject
    assert f"/contracts/{world.contract.pk}/incidents/{incident.pk}/" in message.body
    assert "150" not in message.body, "the e-mail says where to look, not what leaked"


def test_nothing_is_sent_when_the_report_rolls_back(world, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
        raise RuntimeError("something after the report failed")
    assert callbacks == []
    assert mail.outbox == []
    assert not Incident.objects.exists() and not Notification.objects.exists()


def test_without_an_orderer_officer_the_incident_stays_reported_until_one_is_told(world):
    membership = Membership.objects.get(user=world.orderer, contract=world.contract)
    Membership.objects.filter(pk=membership.pk).update(ended_at=timezone.now())
    incident = services.report_incident(world.contract, acting_user=world.staff, data=no_personal())
    assert incident.state == IncidentState.REPORTED and incident.notified_at is None
    assert Notification.objects.filter(user=world.manager, subject__contains="発注者担当が未設定").exists()
    with pytest.raises(Conflict) as refused:
        services.notify_orderer(incident, acting_user=world.manager)
    assert refused.value.code == "no_orderer_officer" and refused.value.clause == "R2.8.1"

    Membership.objects.filter(pk=membership.pk).update(ended_at=None)
    incident = services.notify_orderer(incident, acting_user=world.manager)
    assert incident.state == IncidentState.ORDERER_NOTIFIED and incident.notified_at is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"personal_count": None}, "本人の数"),
        ({"personal_categories": []}, "個人情報の項目"),
        ({"detected_at": timezone.now() + dt.timedelta(hours=2)}, "未来"),
        ({"occurred_at": timezone.now()}, "発生日時"),
        ({"kind": "meteor"}, "種別"),
        ({"title": "  "}, "件名"),
    ],
)
def test_report_is_refused_when_facts_are_missing_or_wrong(world, change, message):
    with pytest.raises(Invalid) as refused:
        services.report_incident(world.contract, acting_user=world.staff, data=lost_usb(**change))
    assert message in refused.value.message


def test_assets_with_personal_information_make_the_report_say_so(world, roster):
    with pytest.raises(Invalid) as refused:
        services.report_incident(world.contract, acting_user=world.staff, data=no_personal(assets=[roster]))
    assert refused.value.code == "personal_info_in_assets" and refused.value.clause == "P10"
    incident = services.report_incident(
        world.contract, acting_user=world.staff, data=lost_usb(assets=[roster])
    )
    assert list(incident.assets.all()) == [roster]


def test_the_sensitive_category_and_the_flag_go_together(world):
    by_category = services.report_incident(
        world.contract, acting_user=world.staff, data=lost_usb(personal_categories=["name", "sensitive"])
    )
    assert by_category.personal_sensitive and by_category.triggers.public_body_report
    by_flag = services.report_incident(
        world.contract, acting_user=world.staff, data=lost_usb(personal_sensitive=True)
    )
    assert by_flag.personal_categories == ["name", "address", "sensitive"]


def test_assets_of_another_contract_are_refused(world, roster):
    with pytest.raises(Invalid):
        services.report_incident(
            world.other_contract, acting_user=world.outsider, data=lost_usb(assets=[roster])
        )


def test_refs_count_per_contract(world):
    refs = [
        services.report_incident(world.contract, acting_user=world.staff, data=no_personal()).ref
        for _ in range(3)
    ]
    assert refs == ["I-1", "I-2", "I-3"]
    assert (
        services.report_incident(world.other_contract, acting_user=world.outsider, data=no_personal()).ref
        == "I-1"
    )


# --- the transition table --------------------------------------------------------------------------------------


def test_the_table_is_linear_and_only_the_orderer_step_leads_to_closed():
    assert set(INCIDENT_TRANSITIONS) == set(IncidentState.values) == set(WORKFLOW)
    assert INCIDENT_TRANSITIONS[IncidentState.CLOSED] == frozenset()
    into_closed = [s for s, nexts in INCIDENT_TRANSITIONS.items() if IncidentState.CLOSED in nexts]
    assert into_closed == [IncidentState.PREVENTION]
    for here, there in itertools.pairwise(WORKFLOW):
        assert there in INCIDENT_TRANSITIONS[here], (here, there)


def test_the_whole_workflow_from_report_to_close(world, incident):
    incident = walk_to(incident, IncidentState.PREVENTION, world)
    incident = services.record_authority_report(
        incident, acting_user=world.orderer, stage="prompt", reported_on=timezone.localdate()
    )
    incident = services.record_authority_report(
        incident, acting_user=world.orderer, stage="final", reported_on=timezone.localdate()
    )
    incident = services.close_incident(incident, acting_user=world.orderer, note="確認した")
    assert incident.state == IncidentState.CLOSED
    assert incident.closed_by == world.orderer and incident.closed_at is not None
    assert events(incident) == [
        "incident.report",
        "incident.orderer_notified",
        "incident.start_investigation",
        "incident.record_cause",
        "incident.record_corrective_measures",
        "incident.record_prevention",
        "incident.authority_report.prompt",
        "incident.authority_report.final",
        "incident.close",
    ]
    closed = Notification.objects.filter(subject__startswith="事案の完了").values_list(
        "user__username", flat=True
    )
    assert set(closed) == {"manager", "staff"}


@pytest.mark.parametrize(
    "step",
    [
        lambda i, w: services.record_cause(i, acting_user=w.manager, cause="x"),
        lambda i, w: services.record_corrective_measures(i, acting_user=w.manager, measures="x"),
        lambda i, w: services.record_prevention(i, acting_user=w.manager, prevention="x"),
        lambda i, w: services.close_incident(i, acting_user=w.orderer),
        lambda i, w: services.return_incident(i, acting_user=w.orderer, instruction="x"),
    ],
    ids=["cause", "corrective", "prevention", "close", "return"],
)
def test_steps_out_of_order_are_refused_by_the_table(world, incident, step):
    with pytest.raises(Conflict) as refused:
        step(incident, world)
    assert refused.value.code == "invalid_transition" and refused.value.clause == "R2.8.2"
    assert Incident.objects.get(pk=incident.pk).state == IncidentState.ORDERER_NOTIFIED


def test_the_contractor_cannot_reopen_the_investigation_instead_of_the_orderer(world, incident):
    """Both the start of the investigation and the orderer's return lead to "investigating": each only from
    its own state."""
    incident = walk_to(incident, IncidentState.PREVENTION, world)
    with pytest.raises(Conflict):
        services.start_investigation(incident, acting_user=world.manager)
    assert Incident.objects.get(pk=incident.pk).state == IncidentState.PREVENTION


def test_a_step_cannot_be_taken_twice(world, incident):
    services.start_investigation(incident, acting_user=world.manager)
    with pytest.raises(Conflict):
        services.start_investigation(incident, acting_user=world.manager)


@pytest.mark.parametrize("persona", ["manager", "staff", "sub_staff", "auditor"])
def test_only_the_orderer_closes(world, incident, persona):
    incident = walk_to(incident, IncidentState.PREVENTION, world)
    with pytest.raises(Forbidden) as refused:
        services.close_incident(incident, acting_user=getattr(world, persona))
    assert refused.value.clause == "R2.8.2"
    assert Incident.objects.get(pk=incident.pk).state == IncidentState.PREVENTION


def test_a_mandatory_report_must_be_recorded_before_the_orderer_closes(world, incident):
    incident = walk_to(incident, IncidentState.PREVENTION, world)
    with pytest.raises(Conflict) as refused:
        services.close_incident(incident, acting_user=world.orderer)
    assert refused.value.code == "final_report_missing" and refused.value.clause == "P10"


def test_an_incident_without_a_mandatory_report_closes_at_once(world):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=no_personal())
    incident = walk_to(incident, IncidentState.PREVENTION, world)
    assert services.close_incident(incident, acting_user=world.orderer).state == IncidentState.CLOSED


def test_the_orderer_sends_it_back_with_an_instruction(world, incident):
    incident = walk_to(incident, IncidentState.PREVENTION, world)
    with pytest.raises(Invalid):
        services.return_incident(incident, acting_user=world.orderer, instruction=" ")
    incident = services.return_incident(
        incident, acting_user=world.orderer, instruction="持出し手順を見直すこと"
    )
    assert incident.state == IncidentState.INVESTIGATING
    assert incident.orderer_instruction == "持出し手順を見直すこと"
    assert Notification.objects.filter(user=world.manager, subject__startswith="事案の差戻し").exists()
    # The investigation goes round again.
    walk_to(incident, IncidentState.PREVENTION, world)


def test_the_staff_member_who_reported_investigates_others_do_not(world, incident):
    with pytest.raises(Forbidden) as refused:
        services.start_investigation(incident, acting_user=world.sub_staff)
    assert refused.value.code == "not_investigator"
    for persona in ("orderer", "auditor"):
        with pytest.raises(Forbidden):
            services.start_investigation(incident, acting_user=getattr(world, persona))
    assert (
        services.start_investigation(incident, acting_user=world.staff).state == IncidentState.INVESTIGATING
    )


def test_the_cause_must_be_stated(world, incident):
    incident = services.start_investigation(incident, acting_user=world.manager)
    with pytest.raises(Invalid):
        services.record_cause(incident, acting_user=world.manager, cause="  ")


# --- facts, authority reports, settings ----------------------------------------------------------------------


def test_revising_the_facts_moves_the_deadlines_and_keeps_the_before_and_after(world):
    aware = dt.date(2026, 3, 5)
    incident = services.report_incident(
        world.contract,
        acting_user=world.staff,
        data=lost_usb(detected_at=at(aware), occurred_at=at(aware, 8)),
    )
    final = {d.key: d for d in incident.deadlines_for(None)}[Key.FINAL_REPORT]
    assert final.due == dt.date(2026, 4, 3)
    incident = services.revise_facts(
        incident,
        acting_user=world.manager,
        data=lost_usb(
            detected_at=at(aware), occurred_at=at(aware, 8), wrongful_purpose=True, personal_count=1200
        ),
        note="盗難の可能性",
    )
    final = {d.key: d for d in incident.deadlines_for(None)}[Key.FINAL_REPORT]
    assert final.due == dt.date(2026, 5, 7), "60 days with a wrongful purpose, past Golden Week"
    assert incident.triggers.business_report
    revised = AuditEvent.objects.get(action="incident.revise")
    assert revised.summary["changed"]["count"] == [150, 1200]
    assert revised.summary["changed"]["wrongful_purpose"] == [False, True]


def test_only_the_reporter_among_staff_revises_and_nobody_after_close(world):
    incident = services.report_incident(world.contract, acting_user=world.staff, data=no_personal())
    with pytest.raises(Forbidden):
        services.revise_facts(incident, acting_user=world.sub_staff, data=no_personal())
    with pytest.raises(Forbidden):
        services.revise_facts(incident, acting_user=world.auditor, data=no_personal())
    services.revise_facts(incident, acting_user=world.orderer, data=no_personal(title="図面の誤送付（2件）"))
    incident = walk_to(incident, IncidentState.PREVENTION, world)
    services.close_incident(incident, acting_user=world.orderer)
    with pytest.raises(Conflict):
        services.revise_facts(incident, acting_user=world.manager, data=no_personal())


def test_authority_reports_are_the_orderers_and_only_for_personal_leaks(world, incident):
    today = timezone.localdate()
    with pytest.raises(Forbidden):
        services.record_authority_report(
            incident, acting_user=world.manager, stage="prompt", reported_on=today
        )
    with pytest.raises(Invalid):
        services.record_authority_report(
            incident, acting_user=world.orderer, stage="prompt", reported_on=today + dt.timedelta(days=1)
        )
    services.record_authority_report(incident, acting_user=world.orderer, stage="prompt", reported_on=today)
    with pytest.raises(Conflict):
        services.record_authority_report(
            incident, acting_user=world.orderer, stage="prompt", reported_on=today
        )
    plain = services.report_incident(world.contract, acting_user=world.staff, data=no_personal())
    with pytest.raises(Conflict) as refused:
        services.record_authority_report(plain, acting_user=world.orderer, stage="final", reported_on=today)
    assert refused.value.code == "not_applicable"


def test_the_orderer_sets_the_contract_targets(world):
    with pytest.raises(Forbidden):
        services.configure_deadlines(
            world.contract, acting_user=world.manager, orderer_notice_days=1, prompt_report_business_days=5
        )
    with pytest.raises(Invalid):
        services.configure_deadlines(
            world.contract, acting_user=world.orderer, orderer_notice_days=0, prompt_report_business_days=9
        )
    row = services.configure_deadlines(
        world.contract, acting_user=world.orderer, orderer_notice_days=1, prompt_report_business_days=5
    )
    aware = dt.date(2026, 7, 17)
    incident = services.report_incident(
        world.contract, acting_user=world.staff, data=lost_usb(detected_at=at(aware))
    )
    found = {d.key: d for d in incident.deadlines_for(row)}
    assert found[Key.ORDERER_NOTICE].due == dt.date(2026, 7, 18)
    assert found[Key.PROMPT_REPORT].due == dt.date(2026, 7, 24)


# --- reminders -----------------------------------------------------------------------------------------------------


def test_overdue_deadlines_are_reminded_once_each(world, django_capture_on_commit_callbacks):
    aware = dt.date(2026, 7, 17)
    incident = services.report_incident(
        world.contract, acting_user=world.staff, data=lost_usb(detected_at=at(aware))
    )
    Notification.objects.all().delete()

    assert reminders.remind_overdue(at(dt.date(2026, 7, 22), 18)) == [], (
        "the 速報 is due that day, not overdue yet"
    )
    with django_capture_on_commit_callbacks(execute=True):
        sent = reminders.remind_overdue(at(dt.date(2026, 7, 23), 8))
    assert [(r.key, r.due_on) for r in sent] == [(Key.PROMPT_REPORT, dt.date(2026, 7, 22))]
    told = set(Notification.objects.values_list("user__username", flat=True))
    assert told == {"orderer", "manager"}
    assert any("期限超過" in m.subject for m in mail.outbox)
    assert reminders.remind_overdue(at(dt.date(2026, 7, 24), 8)) == [], "idempotent"

    after_final = at(dt.date(2026, 8, 18), 8)
    assert [r.key for r in reminders.remind_overdue(after_final)] == [Key.FINAL_REPORT]
    assert DeadlineReminder.objects.filter(incident=incident).count() == 2
    assert AuditEvent.objects.filter(action="incident.reminder").count() == 2


def test_a_met_deadline_is_not_reminded_and_a_moved_one_is_new(world):
    aware = dt.date(2026, 7, 17)
    incident = services.report_incident(
        world.contract, acting_user=world.staff, data=lost_usb(detected_at=at(aware))
    )
    Incident.objects.filter(pk=incident.pk).update(prompt_reported_on=dt.date(2026, 7, 21))
    assert reminders.remind_overdue(at(dt.date(2026, 7, 23))) == []
    # The final report deadline, crossed, then moved by a wrongful purpose found later: a new deadline.
    assert [r.key for r in reminders.remind_overdue(at(dt.date(2026, 8, 18)))] == [Key.FINAL_REPORT]
    Incident.objects.filter(pk=incident.pk).update(wrongful_purpose=True)
    assert reminders.remind_overdue(at(dt.date(2026, 8, 19))) == []
    assert [r.due_on for r in reminders.remind_overdue(at(dt.date(2026, 9, 15)))] == [dt.date(2026, 9, 14)]


def test_finding_what_to_remind_costs_the_same_queries_for_one_or_many_incidents(
    world, django_assert_max_num_queries
):
    aware = dt.date(2026, 7, 1)
    services.report_incident(world.contract, acting_user=world.staff, data=lost_usb(detected_at=at(aware)))
    with django_assert_max_num_queries(5):
        assert reminders.remind_overdue(at(aware)) == []
    for _n in range(10):
        services.report_incident(
            world.contract, acting_user=world.staff, data=lost_usb(detected_at=at(aware))
        )
    with django_assert_max_num_queries(5):
        assert reminders.remind_overdue(at(aware)) == []
    assert len(reminders.remind_overdue(at(dt.date(2026, 7, 10)))) == 11


def test_the_tick_command_reminds(world, capsys):
    long_ago = timezone.now() - dt.timedelta(days=90)
    services.report_incident(world.contract, acting_user=world.staff, data=lost_usb(detected_at=long_ago))
    call_command("tick", "--only", "incidents.remind_overdue")
    assert "2 incident reminder(s) sent" in capsys.readouterr().out  # 速報 and 確報 both long past


# --- the device-loss hook ---------------------------------------------------------------------------------------


def test_a_lost_device_opens_a_device_loss_incident(world, roster, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = services.open_incident_for_lost_device(
            contract=world.contract,
            acting_user=world.staff,
            device_label="PC-0123 (ThinkPad)",
            detected_at=timezone.now(),
            note="電車内に置き忘れた",
        )
    assert incident.kind == "device_loss" and incident.state == IncidentState.ORDERER_NOTIFIED
    assert incident.title == "端末・記録媒体の紛失: PC-0123 (ThinkPad)"
    assert not incident.has_personal_info, "unknown until the investigation says so"
    assert AuditEvent.objects.get(action="incident.report").summary["device"] == "PC-0123 (ThinkPad)"
    assert world.orderer.email in [m.to[0] for m in mail.outbox]

    with_assets = services.open_incident_for_lost_device(
        contract=world.contract,
        acting_user=world.manager,
        device_label="USB-7",
        detected_at=timezone.now(),
        note="",
        assets=[roster],
    )
    assert with_assets.has_personal_info and with_assets.personal_count == 150
    assert with_assets.personal_categories == ["name", "address"]


def test_the_device_loss_hook_rolls_back_with_its_caller(world):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.open_incident_for_lost_device(
            contract=world.contract,
            acting_user=world.staff,
            device_label="PC-1",
            detected_at=timezone.now(),
            note="",
        )
        raise RuntimeError("the device update failed")
    assert not Incident.objects.exists()


def test_roles_of_the_policy(world):
    from sekisho.core.policy import ACTIONS

    assert ACTIONS["incident.close"] == frozenset({Role.ORDERER})
    assert Role.AUDITOR not in ACTIONS["incident.report"]
    assert ACTIONS["incident.view"] == frozenset(Role.values)
