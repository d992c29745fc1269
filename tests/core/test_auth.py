from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from sekisho.audit.models import AuditEvent
from sekisho.core import auth
from sekisho.core.auth import LoginRefused
from sekisho.core.models import ApiToken, User

from ..conftest import verified_client
from ..factories import PASSWORD

pytestmark = pytest.mark.django_db


def _code(device: TOTPDevice, offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset * device.step
    return f"{totp.token():0{device.digits}d}"


def _login(client: Client, username: str, password: str = PASSWORD):
    return client.post("/login/", {"username": username, "password": password})


# --- passwords and lockout ---------------------------------------------------------------------------------


@pytest.mark.argon2
def test_passwords_are_stored_with_argon2(world):
    from sekisho.core import services

    user = services.create_user(
        acting_user=world.admin, username="argon", password="a-long-enough-passphrase-7"
    )
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    assert user.password.startswith("argon2$")


def test_account_locks_after_repeated_failures_and_refuses_even_the_right_password(world, settings):
    settings.SEKISHO_LOCKOUT_ATTEMPTS = 3
    for _ in range(3):
        with pytest.raises(LoginRefused):
            auth.login_password(None, "staff", "wrong-password")
    world.staff.refresh_from_db()
    assert world.staff.is_locked
    with pytest.raises(LoginRefused) as exc:
        auth.login_password(None, "staff", PASSWORD)
    # Same message as a wrong password: the form does not reveal the lock (or the account).
    assert "ロック" in exc.value.message
    actions = list(
        AuditEvent.objects.filter(contract=None, object_id=str(world.staff.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions[-2:] == ["auth.locked", "auth.login_refused_locked"]


def test_lock_expires_and_a_good_login_resets_the_counter(world, settings):
    settings.SEKISHO_LOCKOUT_ATTEMPTS = 2
    for _ in range(2):
        with pytest.raises(LoginRefused):
            auth.login_password(None, "staff", "wrong")
    User.objects.filter(pk=world.staff.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert auth.login_password(None, "staff", PASSWORD) == world.staff
    world.staff.refresh_from_db()
    assert (world.staff.failed_logins, world.staff.locked_until) == (0, None)


def test_after_an_expired_lock_one_failure_does_not_lock_again(world, settings):
    settings.SEKISHO_LOCKOUT_ATTEMPTS = 2
    for _ in range(2):
        with pytest.raises(LoginRefused):
            auth.login_password(None, "staff", "wrong")
    User.objects.filter(pk=world.staff.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(LoginRefused):
        auth.login_password(None, "staff", "wrong")
    world.staff.refresh_from_db()
    assert not world.staff.is_locked
    assert world.staff.failed_logins == 1


def test_unknown_user_and_wrong_password_get_the_same_refusal(world):
    with pytest.raises(LoginRefused) as unknown:
        auth.login_password(None, "nobody", "x")
    with pytest.raises(LoginRefused) as wrong:
        auth.login_password(None, "staff", "x")
    assert unknown.value.as_dict() == wrong.value.as_dict()


def test_login_form_shows_the_refusal_and_keeps_the_user_logged_out(world):
    client = Client()
    response = _login(client, "staff", "wrong")
    assert response.status_code == 200
    assert "パスワードが正しくない" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_rotates_the_session_key(world):
    client = Client()
    client.get("/login/")
    session = client.session
    session["planted"] = "x"
    session.save()
    before = session.session_key
    _login(client, "staff")
    assert client.session.session_key != before


# --- second factor -----------------------------------------------------------------------------------------


def test_staff_without_second_factor_reaches_the_contract_list(world):
    client = Client()
    assert _login(client, "staff")["Location"] == "/"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("persona", ["orderer", "manager"])
def test_orderer_and_manager_must_enrol_totp_before_anything_else(world, persona):
    client = Client()
    assert _login(client, persona)["Location"] == "/login/otp/"
    assert client.get("/login/otp/")["Location"] == "/login/otp/setup/"
    assert client.get(f"/contracts/{world.contract.pk}/")["Location"] == "/login/otp/"
    # The API does not take the half-logged-in session either.
    assert client.get("/api/v1/contracts").status_code == 401
    setup = client.get("/login/otp/setup/")
    assert setup.status_code == 200
    device = TOTPDevice.objects.get(user=getattr(world, persona), confirmed=False)
    assert (
        client.post(
            "/login/otp/setup/", {"token": "000000" if _code(device) != "000000" else "111111"}
        ).status_code
        == 200
    )
    device.refresh_from_db()
    assert not device.confirmed
    response = client.post("/login/otp/setup/", {"token": _code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(f"/contracts/{world.contract.pk}/").status_code == 200
    assert client.get("/api/v1/contracts").status_code == 200


def test_enrolled_user_logs_in_with_a_code_and_a_wrong_code_is_refused(world):
    device = TOTPDevice.objects.create(user=world.manager, name="phone", confirmed=True)
    client = Client()
    _login(client, "manager")
    wrong = "123456" if _code(device) != "123456" else "654321"
    response = client.post("/login/otp/", {"token": wrong})
    assert response.status_code == 200
    assert client.get("/")["Location"] == "/login/otp/"
    device.refresh_from_db()
    device.throttling_failure_count = 0  # reset django-otp's back-off so the right code is checked now
    device.throttling_failure_timestamp = None
    device.save()
    assert client.post("/login/otp/", {"token": _code(device)})["Location"] == "/"
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.otp_failed", object_id=str(world.manager.pk)).exists()


def test_repeated_wrong_codes_are_throttled(world):
    device = TOTPDevice.objects.create(user=world.manager, name="phone", confirmed=True)
    for _ in range(3):
        with pytest.raises(LoginRefused):
            auth.check_second_factor(world.manager, "000000" if _code(device) != "000000" else "111111")
    # Even the right code is refused during the back-off.
    with pytest.raises(LoginRefused):
        auth.check_second_factor(world.manager, _code(device))


# --- sessions, CSRF, headers --------------------------------------------------------------------------------


def test_session_expires_after_the_idle_timeout(world):
    client = verified_client(world.staff)
    assert client.get("/").status_code == 200
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    assert client.get("/")["Location"].startswith("/login/")


def test_each_request_pushes_the_idle_expiry_forward():
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_COOKIE_AGE == 30 * 60


def test_api_post_with_a_session_needs_the_csrf_token(world):
    client = verified_client(world.manager)
    client.handler.enforce_csrf_checks = True
    response = client.post(
        f"/api/v1/contracts/{world.contract.pk}/transition",
        data={"to": "active"},
        content_type="application/json",
    )
    assert response.status_code in (401, 403)
    world.contract.refresh_from_db()
    assert world.contract.status == "draft"


def test_login_form_needs_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    assert _login(client, "staff").status_code == 403


def test_pages_carry_a_csp_that_allows_nothing_external(db):
    response = Client().get("/login/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp and "*" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert len(response["X-Request-ID"]) == 32


# --- API tokens --------------------------------------------------------------------------------------------


def test_token_is_stored_only_as_a_hash_with_a_readable_prefix(world):
    token, text = auth.issue_api_token(world.staff, acting_user=world.staff, name="script")
    scheme, prefix, secret = text.split("_", 2)
    assert (scheme, prefix) == ("skh", token.prefix)
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert all(secret not in str(value) for value in stored.values())
    assert len(token.secret_hash) == 64
    assert auth.user_for_token(text) == world.staff


def test_wrong_revoked_or_expired_tokens_are_refused(world):
    token, text = auth.issue_api_token(world.staff, acting_user=world.staff, name="script")
    assert auth.user_for_token(text[:-1] + ("A" if text[-1] != "A" else "B")) is None
    assert auth.user_for_token("skh_nonsense") is None
    auth.revoke_api_token(token, acting_user=world.staff)
    assert auth.user_for_token(text) is None
    token2, text2 = auth.issue_api_token(world.staff, acting_user=world.staff, name="short")
    ApiToken.objects.filter(pk=token2.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert auth.user_for_token(text2) is None
    assert Client(headers={"Authorization": f"Bearer {text2}"}).get("/api/v1/contracts").status_code == 401


def test_token_of_a_deactivated_user_stops_working(world):
    _token, text = auth.issue_api_token(world.staff, acting_user=world.staff, name="script")
    User.objects.filter(pk=world.staff.pk).update(is_active=False)
    assert auth.user_for_token(text) is None


def test_nobody_issues_tokens_for_someone_else(world):
    from sekisho.core.errors import Forbidden

    with pytest.raises(Forbidden):
        auth.issue_api_token(world.staff, acting_user=world.manager, name="x")
