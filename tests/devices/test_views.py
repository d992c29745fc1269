"""Browser pages for devices and media."""

from __future__ import annotations

import pytest

from sekisho.devices.models import Device, Medium

from ..conftest import verified_client
from .conftest import healthy_facts, register

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("persona", ["orderer", "manager", "staff", "sub_staff", "auditor"])
def test_members_see_the_device_list_with_badges(world, make_pc, persona):
    make_pc(facts=healthy_facts(disk_encryption=False))
    page = verified_client(getattr(world, persona)).get(f"/contracts/{world.contract.pk}/devices/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "KURA-PC-017" in html
    assert 'data-status="approved"' in html and 'data-posture="failing"' in html
    assert "ディスク暗号化が有効になっていません" in html
    assert "利用不可（R2.7イ）" in html


def test_outsider_gets_404_on_device_and_media_pages(world, make_pc):
    pc = make_pc()
    client = verified_client(world.outsider)
    base = f"/contracts/{world.contract.pk}"
    for url in (f"{base}/devices/", f"{base}/devices/{pc.device.uid}/", f"{base}/media/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"{base}/devices/{pc.device.uid}/revoke/", {"reason": "x"}).status_code == 404


def test_staff_registers_a_pc_in_the_browser(world):
    client = verified_client(world.staff)
    response = client.post(
        f"/contracts/{world.contract.pk}/devices/register/",
        {"name": "KURA-PC-030", "kind": "desktop", "os": "linux", "asset_tag": "A-030"},
    )
    device = Device.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/devices/{device.uid}/")
    assert device.owner == world.staff and device.status == Device.Status.REGISTERED


def test_manager_approves_and_issues_a_code_shown_once(world):
    device = register(world)
    client = verified_client(world.manager)
    base = f"/contracts/{world.contract.pk}/devices/{device.uid}"
    detail = client.get(f"{base}/").content.decode()
    assert "承認する" in detail
    response = client.post(f"{base}/approve/", {"approved_until": "2027-03-19", "note": "業務用"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.status == Device.Status.APPROVED
    page = client.post(f"{base}/enrollment-code/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="enrollment-code"' in html and "sekisho agent enroll --server" in html
    assert 'id="enrollment-code"' not in client.get(f"{base}/").content.decode()


def test_refusal_in_the_browser_shows_the_clause(world):
    medium = Medium.objects.create(
        contract=world.contract,
        label="普通のUSB",
        kind="usb",
        security_function="none",
        serial_number="SN-1",
        registered_by=world.staff,
    )
    client = verified_client(world.manager)
    response = client.post(f"/contracts/{world.contract.pk}/media/{medium.pk}/approve/", follow=True)
    assert "[R2.7エ]" in response.content.decode()
    medium.refresh_from_db()
    assert medium.status == Medium.Status.REGISTERED


def test_staff_cannot_approve_in_the_browser(world):
    device = register(world)
    client = verified_client(world.staff)
    response = client.post(
        f"/contracts/{world.contract.pk}/devices/{device.uid}/approve/",
        {"approved_until": "2027-01-01"},
        follow=True,
    )
    assert "権限がありません" in response.content.decode()
    device.refresh_from_db()
    assert device.status == Device.Status.REGISTERED


def test_media_pages_render(world):
    client = verified_client(world.staff)
    client.post(
        f"/contracts/{world.contract.pk}/media/register/",
        {
            "label": "暗号化USB-01",
            "kind": "usb",
            "security_function": "hardware_encryption",
            "serial_number": "X1",
        },
    )
    medium = Medium.objects.get()
    assert "暗号化USB-01" in client.get(f"/contracts/{world.contract.pk}/media/").content.decode()
    detail = client.get(f"/contracts/{world.contract.pk}/media/{medium.pk}/").content.decode()
    assert "保管中" in detail


def test_device_list_page_costs_a_fixed_number_of_queries(world, make_pc, django_assert_max_num_queries):
    for i in range(6):
        make_pc(name=f"PC-{i}", asset_tag=f"A-{i}")
    client = verified_client(world.auditor)
    client.get(f"/contracts/{world.contract.pk}/devices/")
    with django_assert_max_num_queries(20):
        assert client.get(f"/contracts/{world.contract.pk}/devices/").status_code == 200
