"""require_device: only approved, enrolled PCs whose posture passes may touch the information (R2.7ア/イ)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import RequestFactory
from django.utils import timezone

from sekisho.core.errors import NotFound
from sekisho.devices import services
from sekisho.devices.models import Device, PostureReport
from sekisho.devices.policy import SESSION_KEY, DeviceBinding, DeviceRefused, require_device

from .conftest import approve, healthy_facts, register, report

pytestmark = pytest.mark.django_db


def binding(device: Device) -> DeviceBinding:
    return DeviceBinding(str(device.uid))


def refused(world, device: Device, user=None) -> DeviceRefused:
    with pytest.raises(DeviceRefused) as info:
        require_device(binding(device), user or world.staff, world.contract)
    return info.value


def test_healthy_approved_device_is_accepted(world, make_pc):
    pc = make_pc()
    assert require_device(binding(pc.device), world.staff, world.contract) == pc.device


def test_unapproved_device_is_refused_with_r27a(world):
    device = register(world)
    error = refused(world, device)
    assert error.clause == "R2.7ア"
    assert "承認を受けていません" in error.message
    assert error.status == 403


def test_revoked_device_is_refused_with_r27a(world, make_pc):
    pc = make_pc()
    services.revoke_device(pc.device, acting_user=world.manager, reason="退職に伴う返却")
    error = refused(world, pc.refresh())
    assert error.clause == "R2.7ア"
    assert "取り消されています" in error.message


def test_expired_device_is_refused_with_r27a(world, make_pc):
    pc = make_pc()
    Device.objects.filter(pk=pc.device.pk).update(approved_until=timezone.now() - dt.timedelta(minutes=1))
    error = refused(world, pc.refresh())
    assert error.clause == "R2.7ア"
    assert "承認期限が切れています" in error.message


def test_reapproval_of_an_expired_device_restores_access(world, make_pc):
    pc = make_pc()
    Device.objects.filter(pk=pc.device.pk).update(approved_until=timezone.now() - dt.timedelta(minutes=1))
    approve(world, pc.refresh())
    assert require_device(binding(pc.device), world.staff, world.contract) == pc.device


def test_lost_device_is_refused_with_r27a(world, make_pc):
    pc = make_pc()
    services.mark_device_lost(pc.device, acting_user=world.staff, note="電車内に置き忘れ")
    error = refused(world, pc.refresh())
    assert error.clause == "R2.7ア"
    assert "紛失・盗難" in error.message


def test_approved_but_not_enrolled_device_is_refused_with_r27a(world):
    device = approve(world, register(world))
    error = refused(world, device)
    assert error.clause == "R2.7ア"
    assert "登録（鍵の登録）されていません" in error.message


def test_request_without_any_device_binding_is_refused_with_r27a(world):
    request = RequestFactory().get("/")
    request.session = {}  # type: ignore[attr-defined]
    with pytest.raises(DeviceRefused) as info:
        require_device(request, world.staff, world.contract)
    assert info.value.clause == "R2.7ア"
    assert "sekisho agent open" in info.value.message


def test_failing_posture_is_refused_with_r27i_listing_each_failing_control(world, make_pc):
    pc = make_pc(facts=healthy_facts(disk_encryption=False, firewall_enabled=None, screen_lock_minutes=30))
    error = refused(world, pc.device)
    assert error.clause == "R2.7イ"
    assert "ディスク暗号化が有効になっていません" in error.message
    assert "ファイアウォールの状態を確認できません" in error.message
    assert "画面ロックまでの時間が30分です（15分以内が必要です）" in error.message
    assert [f.control for f in error.failures] == ["disk_encryption", "firewall", "screen_lock"]


def test_stale_posture_is_refused_with_r27i(world, make_pc):
    pc = make_pc()
    PostureReport.objects.filter(device=pc.device).update(received_at=timezone.now() - dt.timedelta(hours=25))
    error = refused(world, pc.refresh())
    assert error.clause == "R2.7イ"
    assert "25時間前" in error.message


def test_device_without_any_report_is_refused_with_r27i(world, make_pc):
    pc = make_pc(reported=False)
    error = refused(world, pc.device)
    assert error.clause == "R2.7イ"
    assert "報告がありません" in error.message


def test_posture_is_measured_at_use_so_ageing_definitions_fail_later(world, make_pc):
    # Passing on arrival: definitions 6 days old. The same report, read 2 days later, is 8 days old.
    now = timezone.now()
    pc = make_pc(facts=healthy_facts(antivirus_definitions_updated=(now - dt.timedelta(days=6)).isoformat()))
    assert pc.device.latest_report.passed
    PostureReport.objects.filter(device=pc.device).update(received_at=now - dt.timedelta(hours=1))
    facts = pc.device.latest_report.facts
    facts["antivirus_definitions_updated"] = (now - dt.timedelta(days=8)).isoformat()
    PostureReport.objects.filter(device=pc.device).update(facts=facts)
    error = refused(world, pc.refresh())
    assert error.clause == "R2.7イ"
    assert "ウイルス定義ファイルが8日前のものです（7日以内が必要です）" in error.message


def test_a_stricter_contract_policy_applies_to_existing_reports(world, make_pc):
    pc = make_pc(facts=healthy_facts(screen_lock_minutes=10))
    services.set_posture_policy(world.contract, acting_user=world.manager, max_screen_lock_minutes=5)
    error = refused(world, pc.device)
    assert "画面ロックまでの時間が10分です（5分以内が必要です）" in error.message


def test_a_device_of_the_contract_is_not_accepted_for_another_contract(world, make_pc):
    pc = make_pc()
    with pytest.raises(NotFound):  # staff is not a member of the other contract
        require_device(binding(pc.device), world.staff, world.other_contract)
    with pytest.raises(DeviceRefused):  # and the outsider's contract does not know this device
        require_device(binding(pc.device), world.outsider, world.other_contract)


def test_outsider_gets_404_not_a_device_verdict(world, make_pc):
    pc = make_pc()
    with pytest.raises(NotFound):
        require_device(binding(pc.device), world.outsider, world.contract)


def test_session_binding_is_rechecked_on_every_use(world, make_pc):
    pc = make_pc()
    request = RequestFactory().get("/")
    request.session = {SESSION_KEY: {str(world.contract.pk): str(pc.device.uid)}}  # type: ignore[attr-defined]
    assert require_device(request, world.staff, world.contract) == pc.device
    report(pc.device, healthy_facts(antivirus_enabled=False))
    with pytest.raises(DeviceRefused) as info:
        require_device(request, world.staff, world.contract)
    assert info.value.clause == "R2.7イ"
    services.revoke_device(pc.device, acting_user=world.manager, reason="調査のため停止")
    with pytest.raises(DeviceRefused) as info:
        require_device(request, world.staff, world.contract)
    assert info.value.clause == "R2.7ア"


def test_fixing_the_posture_restores_access(world, make_pc):
    pc = make_pc(facts=healthy_facts(disk_encryption=False))
    refused(world, pc.device)
    report(pc.device, healthy_facts())
    assert require_device(binding(pc.refresh()), world.staff, world.contract) == pc.device
