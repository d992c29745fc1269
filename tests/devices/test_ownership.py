"""R2.7ア: a PC is approved for its own user (使用者). Nobody else binds a browser session to it through its
one-time link, nor works from it with a bound session or a signed request."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from sekisho.audit.models import AuditEvent
from sekisho.devices import services
from sekisho.devices.models import DeviceLoginLink
from sekisho.devices.policy import SESSION_KEY, DeviceRefused, require_device

from ..conftest import verified_client
from .conftest import signed

pytestmark = pytest.mark.django_db

LINK = "/api/v1/agent/login-link"


def login_link(pc) -> str:
    response = signed(Client(), pc.key, str(pc.device.uid), "POST", LINK, {})
    assert response.status_code == 201, response.content
    return response.json()["path"]


def test_the_owner_binds_a_session_to_their_own_pc(world, make_pc):
    pc = make_pc(owner=world.staff)
    browser = verified_client(world.staff)
    response = browser.get(login_link(pc))
    assert response.status_code == 302
    assert browser.session[SESSION_KEY] == {str(world.contract.pk): str(pc.device.uid)}
    event = AuditEvent.objects.filter(contract=world.contract, action="device.session_bound").get()
    assert event.summary["user"] == "staff"


@pytest.mark.parametrize("persona", ["manager", "sub_staff", "auditor", "orderer"])
def test_another_member_cannot_bind_a_session_to_someone_elses_pc(world, make_pc, persona):
    pc = make_pc(owner=world.staff)
    path = login_link(pc)
    browser = verified_client(getattr(world, persona))
    response = browser.get(path)
    assert response.status_code == 403
    page = response.content.decode()
    assert "R2.7ア" in page
    assert "他の利用者の端末として承認されています" in page
    assert SESSION_KEY not in browser.session
    assert not AuditEvent.objects.filter(action="device.session_bound").exists()
    # The refusal spends nothing: the owner still opens the same link.
    assert DeviceLoginLink.objects.get().used_at is None
    owner = verified_client(world.staff)
    assert owner.get(path).status_code == 302


def test_bind_session_refuses_with_its_own_error_code(world, make_pc, rf):
    pc = make_pc(owner=world.staff)
    _link, token = services.create_login_link(pc.device)
    request = rf.get("/")
    request.session = verified_client(world.manager).session
    with pytest.raises(DeviceRefused) as info:
        services.bind_session(request, token=token, acting_user=world.manager)
    assert (info.value.code, info.value.clause, info.value.status) == ("device_not_yours", "R2.7ア", 403)


def test_a_session_bound_to_someone_elses_pc_is_refused_at_use(world, make_pc):
    # However a binding got into a session, require_device checks whose device it is on every use.
    pc = make_pc(owner=world.staff)
    request = RequestFactory().get("/")
    request.session = {SESSION_KEY: {str(world.contract.pk): str(pc.device.uid)}}  # type: ignore[attr-defined]
    assert require_device(request, world.staff, world.contract) == pc.device
    with pytest.raises(DeviceRefused) as info:
        require_device(request, world.manager, world.contract)
    assert (info.value.code, info.value.clause) == ("device_not_yours", "R2.7ア")
