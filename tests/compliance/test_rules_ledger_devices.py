"""Each rule over the ledger and the devices: a state that breaks the clause yields the finding; putting it
right resolves it (resolved_at set)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from sekisho.compliance.selectors import open_findings_by_clause
from sekisho.devices import services as devices
from sekisho.devices.models import Device
from sekisho.ledger.models import Asset, AssetState, LocationKind, Medium, Origin, PersonalCategory
from sekisho.permits import services as permits
from tests.vault.helpers import healthy_facts, make_pc, put

from .conftest import electronic, evaluate, one_open, open_findings, paper, resolved

pytestmark = pytest.mark.django_db


def test_the_cleared_world_has_no_findings(world):
    result = evaluate(world)
    assert result.open_count == 0 and result.opened == []
    assert result.training_coverage == 100.0


# --- R2.7ウ / R2.6.2イ: important information outside the vault ------------------------------------------------


def test_important_file_kept_on_a_pc_is_a_finding_until_it_is_back_in_the_vault(world):
    asset = electronic(world, important=True)
    evaluate(world)
    assert open_findings(world, "important_outside_vault") == []
    # Out of band (data from before the rule, an edit behind the services): the ledger now places it on a PC.
    Asset.objects.filter(pk=asset.pk).update(location_kind=LocationKind.DEVICE, location="ノートPC 3号機")
    evaluate(world)
    finding = one_open(world, "important_outside_vault")
    assert (finding.clause, finding.severity, finding.subject_id) == ("R2.7ウ", "high", str(asset.pk))
    assert finding.evidence["location"] == "ノートPC 3号機"
    assert finding in open_findings_by_clause(world.contract)["R2.6.2イ"]
    Asset.objects.filter(pk=asset.pk).update(location_kind=LocationKind.VAULT, location="")
    evaluate(world)
    assert resolved(finding).resolved_at is not None
    assert open_findings(world, "important_outside_vault") == []


def test_unimportant_or_paper_information_off_the_vault_is_no_finding(world):
    electronic(world, important=False, location_kind=LocationKind.DEVICE, location="PC")
    paper(world)
    evaluate(world, now=timezone.now() + dt.timedelta(days=3))
    assert open_findings(world, "important_outside_vault") == []


def test_important_asset_whose_content_never_reached_the_vault_is_a_finding_after_a_day(world, vault_dirs):
    asset = electronic(world, important=True)
    evaluate(world)
    assert open_findings(world, "important_outside_vault") == [], "a day's grace to seal the content"
    later = timezone.now() + dt.timedelta(days=2)
    evaluate(world, now=later)
    finding = one_open(world, "important_outside_vault")
    assert finding.severity == "medium" and finding.evidence["in_vault"] is True
    put(asset, world.staff, make_pc(world), b"%PDF-1.7 report")
    evaluate(world, now=later)
    resolved(finding)


# --- R2.7ア / R2.7イ / R2.6.2ア: devices ---------------------------------------------------------------------


def test_device_used_after_its_approval_expired_is_a_finding_until_re_approved(world):
    pc = make_pc(world)
    evaluate(world)
    assert open_findings(world, "device_approval_expired") == []
    Device.objects.filter(pk=pc.device.pk).update(approved_until=timezone.now() - dt.timedelta(hours=2))
    evaluate(world)
    finding = one_open(world, "device_approval_expired")
    # It reported after the expiry: still in use without approval.
    assert (finding.clause, finding.severity) == ("R2.7ア", "high")
    assert finding in open_findings_by_clause(world.contract)["R2.6.2ア"]
    devices.approve_device(
        Device.objects.get(pk=pc.device.pk),
        acting_user=world.manager,
        approved_until=timezone.now() + dt.timedelta(days=30),
    )
    evaluate(world)
    resolved(finding)


def test_expired_device_that_stopped_reporting_is_a_medium_finding_and_a_revoked_one_none(world):
    pc = make_pc(world)
    Device.objects.filter(pk=pc.device.pk).update(approved_until=timezone.now() + dt.timedelta(hours=1))
    evaluate(world, now=timezone.now() + dt.timedelta(hours=3))
    finding = one_open(world, "device_approval_expired")
    assert finding.severity == "medium"
    devices.revoke_device(Device.objects.get(pk=pc.device.pk), acting_user=world.manager, reason="返却")
    evaluate(world, now=timezone.now() + dt.timedelta(hours=3))
    resolved(finding)


def test_device_failing_its_posture_is_a_finding_until_a_passing_report(world):
    pc = make_pc(world)
    evaluate(world)
    assert open_findings(world, "device_posture_failing") == []
    devices.record_posture_report(
        pc.device,
        collected_at=timezone.now(),
        facts={**healthy_facts(), "disk_encryption": False, "firewall_enabled": False},
        agent_version="test",
    )
    evaluate(world)
    finding = one_open(world, "device_posture_failing")
    assert (finding.clause, finding.severity) == ("R2.7イ", "high")
    assert finding.evidence["failing"] == ["disk_encryption", "firewall"]
    devices.record_posture_report(
        pc.device, collected_at=timezone.now(), facts=healthy_facts(), agent_version="test"
    )
    evaluate(world)
    resolved(finding)


def test_approved_device_that_never_reported_is_a_low_finding(world):
    device = devices.register_device(
        world.contract, acting_user=world.staff, name="新PC", kind=Device.Kind.DESKTOP, os=Device.OS.LINUX
    )
    devices.approve_device(
        device, acting_user=world.manager, approved_until=timezone.now() + dt.timedelta(days=30)
    )
    evaluate(world)
    finding = one_open(world, "device_posture_failing")
    assert finding.severity == "low" and finding.evidence["failing"] == ["report"]
    devices.revoke_device(Device.objects.get(pk=device.pk), acting_user=world.manager, reason="使用しない")
    evaluate(world)
    resolved(finding)


# --- R2.3 / P7: copies whose permit no longer stands ------------------------------------------------------------


def _copy_under_permit(world, parent, *, medium=Medium.PAPER):
    today = timezone.localdate()
    permit = permits.request_permit(
        world.contract,
        acting_user=world.staff,
        kind="copy",
        assets=[parent],
        reason="現地調査用の写し",
        copies=2,
        valid_from=today - dt.timedelta(days=1),
        valid_until=today + dt.timedelta(days=30),
    )
    permit = permits.decide_permit(permit, acting_user=world.orderer, approve=True)
    extra = {"quantity": 1, "location_kind": LocationKind.CABINET} if medium == Medium.PAPER else {}
    copy = (paper if medium == Medium.PAPER else electronic)(
        world, title="台帳図の写し", origin=Origin.COPY, parent=parent, **extra
    )
    assert copy.permit_id == permit.pk
    return copy, permit


def test_copy_held_after_its_permit_was_revoked_is_a_finding_until_it_is_gone(world):
    copy, permit = _copy_under_permit(world, paper(world))
    evaluate(world)
    assert open_findings(world, "copy_permit_lapsed") == []
    permits.revoke_permit(permit, acting_user=world.orderer, note="調査範囲の変更")
    evaluate(world)
    finding = one_open(world, "copy_permit_lapsed")
    assert (finding.clause, finding.severity, finding.subject_id) == ("R2.3", "high", str(copy.pk))
    assert finding.evidence["permit_state"] == "revoked"
    # Destroyed on the orderer's instruction (recorded by the close-out).
    Asset.objects.filter(pk=copy.pk).update(state=AssetState.DESTROYED)
    evaluate(world)
    resolved(finding)


def test_copy_of_lent_personal_information_held_past_its_permit_is_a_p7_finding(world):
    lent = electronic(
        world,
        title="下水道使用者名簿",
        origin=Origin.PROVIDED,
        has_personal_info=True,
        personal_categories=[PersonalCategory.NAME, PersonalCategory.ADDRESS],
        personal_count=300,
        personal_purpose="使用者への調査の連絡",
        personal_necessity="調査の立会い依頼のため",
    )
    copy, _permit = _copy_under_permit(world, lent, medium=Medium.ELECTRONIC)
    after_expiry = timezone.now() + dt.timedelta(days=40)
    evaluate(world, now=after_expiry)
    finding = one_open(world, "copy_permit_lapsed")
    assert (finding.clause, finding.severity) == ("P7", "medium")
    assert finding in open_findings_by_clause(world.contract)["P7"]
    assert finding not in open_findings_by_clause(world.contract).get("R2.3", [])
    Asset.objects.filter(pk=copy.pk).update(state=AssetState.RETURNED)
    evaluate(world, now=after_expiry)
    resolved(finding)


# --- R2.5 / P9: not returned after the end ----------------------------------------------------------------------


def test_information_still_held_after_the_period_ended_is_a_finding_until_returned(world):
    drawing = paper(world)
    roster = electronic(
        world,
        title="使用者名簿",
        has_personal_info=True,
        personal_categories=[PersonalCategory.NAME],
        personal_count=20,
        personal_purpose="連絡",
        personal_necessity="立会い依頼",
    )
    evaluate(world)
    assert open_findings(world, "not_returned_after_end") == []
    ended = timezone.localdate() - dt.timedelta(days=1)
    type(world.contract).objects.filter(pk=world.contract.pk).update(period_end=ended)
    world.contract.refresh_from_db()
    evaluate(world)
    found = {f.subject_id: f for f in open_findings(world, "not_returned_after_end")}
    assert found[str(drawing.pk)].clause == "R2.5"
    assert found[str(roster.pk)].clause == "P9"
    # A P9 finding is an R2.5 breach as well.
    assert found[str(roster.pk)] in open_findings_by_clause(world.contract)["R2.5"]
    Asset.objects.filter(pk__in=[drawing.pk, roster.pk]).update(state=AssetState.RETURNED)
    evaluate(world)
    for finding in found.values():
        resolved(finding)


# --- P5: personal information without a collection purpose ----------------------------------------------------


def test_personal_information_without_a_purpose_is_a_finding_until_one_is_stated(world):
    asset = electronic(
        world,
        title="立会い者名簿",
        has_personal_info=True,
        personal_categories=[PersonalCategory.NAME, PersonalCategory.PHONE],
        personal_count=12,
        personal_purpose="立会いの連絡",
        personal_necessity="現地調査の立会い",
    )
    evaluate(world)
    assert open_findings(world, "personal_without_purpose") == []
    Asset.objects.filter(pk=asset.pk).update(personal_purpose="")  # e.g. a row from before the rule
    evaluate(world)
    finding = one_open(world, "personal_without_purpose")
    assert (finding.clause, finding.evidence["missing"]) == ("P5", ["purpose"])
    Asset.objects.filter(pk=asset.pk).update(personal_purpose="立会いの連絡")
    evaluate(world)
    resolved(finding)
