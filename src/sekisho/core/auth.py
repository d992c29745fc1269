"""Authentication steps: password login with lockout, the TOTP second factor, API tokens.

Login events go to the deployment-wide audit chain (they belong to no contract).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from sekisho.audit.services import record

from .errors import Forbidden, Invalid, NotFound
from .models import SECOND_FACTOR_ROLES, ApiToken, Membership, User

TOKEN_SCHEME = "skh"


class LoginRefused(Forbidden):
    default_code = "login_refused"


def needs_second_factor(user: User) -> bool:
    """Orderer officers and information managers must use TOTP; anyone who set one up uses it too."""
    if has_confirmed_device(user):
        return True
    return Membership.objects.current().filter(user=user, role__in=SECOND_FACTOR_ROLES).exists()


def has_confirmed_device(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def login_password(request: HttpRequest | None, username: str, password: str) -> User:
    """Check a password, counting failures; lock the account after too many.

    The same message is given for an unknown user, a wrong password and a locked account, so the form
    cannot be used to find out which accounts exist.
    """
    refused = LoginRefused(_("ユーザー名またはパスワードが正しくないか、アカウントがロックされています。"))
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        if user is None:
            raise refused
        locked = user.is_locked
        if locked:  # recorded, then refused outside the block so the record commits
            record(actor=user, action="auth.login_refused_locked", obj=user, summary={})
        elif user.locked_until is not None:  # an expired lock: count afresh
            user.failed_logins, user.locked_until = 0, None
            user.save(update_fields=["failed_logins", "locked_until"])
    if locked:
        raise refused
    authenticated = authenticate(request, username=username, password=password)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if authenticated is None:
            user.failed_logins += 1
            summary: dict[str, Any] = {"failed_logins": user.failed_logins}
            if user.failed_logins >= settings.SEKISHO_LOCKOUT_ATTEMPTS:
                user.locked_until = timezone.now() + dt.timedelta(minutes=settings.SEKISHO_LOCKOUT_MINUTES)
                summary["locked_until"] = user.locked_until
            user.save(update_fields=["failed_logins", "locked_until"])
            record(
                actor=user,
                action="auth.locked" if "locked_until" in summary else "auth.login_failed",
                obj=user,
                summary=summary,
            )
    if authenticated is None:
        raise refused
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
        record(actor=user, action="auth.password_ok", obj=user, summary={})
    return authenticated


@transaction.atomic
def unlock_user(user: User, *, acting_user: Any) -> None:
    from . import policy

    policy.require_system_admin(acting_user)
    User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
    record(actor=acting_user, action="auth.unlock", obj=user, summary={"user": user.username})


@transaction.atomic
def start_totp_setup(user: User) -> TOTPDevice:
    """Create (or reuse) the user's unconfirmed TOTP device; it counts only once a code confirms it."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="default", confirmed=False)
    return device


@transaction.atomic
def confirm_totp_setup(user: User, token: str) -> TOTPDevice:
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None:
        raise NotFound(_("設定中の認証アプリがありません。最初からやり直してください。"))
    if not verify_totp(device, token):
        raise Invalid(_("確認コードが正しくありません。"), code="bad_otp")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    record(actor=user, action="auth.totp_enrolled", obj=user, summary={"device": device.pk})
    return device


def verify_totp(device: TOTPDevice, token: str) -> bool:
    token = "".join(ch for ch in token if ch.isdigit())
    if len(token) != device.digits:
        return False
    allowed, _detail = device.verify_is_allowed()
    if not allowed:
        return False
    return bool(device.verify_token(token))


def check_second_factor(user: User, token: str) -> TOTPDevice:
    """Return the confirmed device that accepts *token*, recording the failure otherwise."""
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if verify_totp(device, token):
            with transaction.atomic():
                record(actor=user, action="auth.login", obj=user, summary={"second_factor": "totp"})
            return device
    with transaction.atomic():
        record(actor=user, action="auth.otp_failed", obj=user, summary={})
    raise LoginRefused(_("確認コードが正しくありません。"), code="bad_otp")


@transaction.atomic
def record_login_without_second_factor(user: User) -> None:
    record(actor=user, action="auth.login", obj=user, summary={"second_factor": None})


# --- API tokens -------------------------------------------------------------------------------------------


def _hash_secret(secret: str) -> str:
    # Tokens carry 256 bits of randomness, so a plain SHA-256 cannot be brute-forced; a slow hash would only
    # slow every API call.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@transaction.atomic
def issue_api_token(
    user: User, *, acting_user: Any, name: str, expires_at: dt.datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token and return it with its full text, which is shown once and never stored."""
    from . import policy

    if getattr(acting_user, "pk", None) != user.pk:
        policy.require_system_admin(acting_user)
    if not name.strip():
        raise Invalid(_("トークンの名称を入力してください。"))
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid(_("有効期限は将来の日時にしてください。"))
    while True:
        prefix = secrets.token_hex(ApiToken.PREFIX_LEN // 2)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip(), prefix=prefix, secret_hash=_hash_secret(secret), expires_at=expires_at
    )
    record(
        actor=acting_user,
        action="token.create",
        obj=token,
        summary={"user": user.username, "name": token.name, "prefix": prefix, "expires_at": expires_at},
    )
    return token, f"{TOKEN_SCHEME}_{prefix}_{secret}"


@transaction.atomic
def revoke_api_token(token: ApiToken, *, acting_user: Any) -> None:
    from . import policy

    if getattr(acting_user, "pk", None) != token.user_id:
        policy.require_system_admin(acting_user)
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    record(actor=acting_user, action="token.revoke", obj=token, summary={"prefix": token.prefix})


def user_for_token(raw: str) -> User | None:
    """The active user a bearer token belongs to, or None. Compared in constant time."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_SCHEME or len(parts[1]) != ApiToken.PREFIX_LEN:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1]).first()
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    if not hmac.compare_digest(token.secret_hash, _hash_secret(parts[2])):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
