"""Logging in through the form: throttling (lockout) and session fixation (a new session key at login and at
device binding; the old key is worth nothing afterwards)."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from sekisho.core.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _login(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def _planted_session(client: Client) -> str:
    """A session an attacker could have planted before the victim logs in (the key is known to them)."""
    session = client.session
    session["planted"] = True
    session.save()
    client.cookies["sessionid"] = session.session_key
    return session.session_key


def test_failed_logins_lock_the_account_and_the_right_password_is_then_refused(world, settings):
    settings.SEKISHO_LOCKOUT_ATTEMPTS = 3
    client = Client()
    for _ in range(3):
        response = _login(client, "staff", "wrong-password-1234")
        assert response.status_code == 200 and "_auth_user_id" not in client.session
    response = _login(client, "staff", PASSWORD)
    assert "_auth_user_id" not in client.session, "a locked account must not log in, even with its password"
    assert User.objects.get(username="staff").locked_until is not None
    # The refusal reads the same as for a wrong password: the form tells nobody which accounts exist.
    wrong = _login(Client(), "nobody-at-all", "wrong-password-1234")
    assert response.content.count("ロック".encode()) == wrong.content.count("ロック".encode())


def test_logging_in_gives_a_new_session_key_and_kills_the_planted_one(world):
    client = Client()
    planted = _planted_session(client)
    response = _login(client, "staff", PASSWORD)
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(world.staff.pk)
    assert client.cookies["sessionid"].value != planted
    assert not SessionStore().exists(planted), "the key known before the login must be dead"
    attacker = Client()
    attacker.cookies["sessionid"] = planted
    assert attacker.get("/").status_code == 302, "the planted key must not be logged in"


def test_second_factor_keeps_a_fresh_key(world):
    """The password step already rotated the key; passing the second factor must not bring back the old one."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=world.manager, name="app", confirmed=True)
    client = Client()
    planted = _planted_session(client)
    assert _login(client, "manager", PASSWORD).status_code == 302
    after_password = client.cookies["sessionid"].value
    assert after_password != planted
    response = client.post("/login/otp/", {"token": f"{totp(device.bin_key):06d}"})
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != planted
    assert not SessionStore().exists(planted)


def test_binding_a_session_to_a_device_gives_a_new_session_key(world, settings, tmp_path):
    from sekisho.devices import services as devices
    from tests.conftest import verified_client
    from tests.vault.helpers import make_pc

    settings.VAULT_DIR = tmp_path / "vault"
    pc = make_pc(world)
    client = verified_client(world.staff)
    before = client.session.session_key
    _link, token = devices.create_login_link(pc.device)
    assert client.get(f"/devices/bind/{token}/").status_code == 302
    assert client.session.session_key != before
    assert not SessionStore().exists(before), (
        "a session id known before the binding is worth nothing after it"
    )
