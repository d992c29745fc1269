"""Checking requests signed with a device key (the format is in ``sekisho.agent.signing``).

A header anyone can set proves nothing; a signature made with the key generated on the PC at enrolment does
(R2.7ア). Each check: the headers are there and well-formed, the timestamp is within ``MAX_SKEW`` of the
server's clock, the signature verifies with the key the server holds, and the nonce has not been seen before
(nonces are kept until their timestamp could no longer pass, then purged).

A spent nonce is committed at once, in its own transaction: a replay of a request that failed later on (for
instance a malformed report) is refused as a replay too.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.agent import signing as wire
from sekisho.core.errors import SekishoError

from .models import Device, UsedNonce

MAX_SKEW = dt.timedelta(minutes=5)
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_VERIFIED_ATTR = "_sekisho_signed_device"


class SignatureRefused(SekishoError):
    """The request does not prove it comes from an enrolled device."""

    status = 401
    default_code = "bad_signature"

    def __init__(self, message: object, *, code: str | None = None) -> None:
        super().__init__(message, code=code, clause="R2.7ア")


@dataclass(frozen=True)
class SignedParts:
    key_id: str
    timestamp: str
    nonce: str
    signature: bytes


def has_signature(request: HttpRequest) -> bool:
    return wire.HEADER_SIGNATURE in request.headers


def _parts(request: HttpRequest) -> SignedParts:
    headers = request.headers
    key_id = headers.get(wire.HEADER_DEVICE, "")
    timestamp = headers.get(wire.HEADER_TIMESTAMP, "")
    nonce = headers.get(wire.HEADER_NONCE, "")
    signature = headers.get(wire.HEADER_SIGNATURE, "")
    if not (key_id and timestamp and nonce and signature):
        raise SignatureRefused(
            _("端末の署名がありません。関所エージェントから送信してください。"), code="unsigned"
        )
    if not timestamp.isdigit() or not _NONCE.match(nonce) or len(key_id) > 100:
        raise SignatureRefused(_("署名ヘッダーの形式が正しくありません。"), code="bad_signature")
    try:
        raw = wire.b64decode(signature)
    except ValueError as exc:
        raise SignatureRefused(_("署名の形式が正しくありません。"), code="bad_signature") from exc
    return SignedParts(key_id, timestamp, nonce, raw)


def _check_time(parts: SignedParts) -> None:
    now = timezone.now()
    sent = dt.datetime.fromtimestamp(int(parts.timestamp), tz=dt.UTC)
    if abs(now - sent) > MAX_SKEW:
        raise SignatureRefused(
            _(
                "要求の時刻がサーバーの時刻（{now}）と{minutes}分以上ずれています。端末の時計を合わせてください。"
            ).format(now=now.isoformat(timespec="seconds"), minutes=int(MAX_SKEW.total_seconds() // 60)),
            code="stale_timestamp",
        )


def _check_signature(request: HttpRequest, parts: SignedParts, public_key_b64: str) -> None:
    message = wire.canonical_message(
        request.method or "",
        request.get_full_path(),
        parts.timestamp,
        parts.nonce,
        parts.key_id,
        request.body,
    )
    try:
        wire.load_public_key(public_key_b64).verify(parts.signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureRefused(_("端末の署名を確認できません。"), code="bad_signature") from exc


def _spend_nonce(key_fingerprint: str, nonce: str) -> None:
    now = timezone.now()
    try:
        with transaction.atomic():
            UsedNonce.objects.filter(expires_at__lt=now).delete()
            UsedNonce.objects.create(
                key_fingerprint=key_fingerprint, nonce=nonce, expires_at=now + 2 * MAX_SKEW
            )
    except IntegrityError as exc:
        raise SignatureRefused(
            _("この要求は既に受け付けています（再送は拒否されます）。"), code="replayed_nonce"
        ) from exc


def verify_device_request(request: HttpRequest) -> Device:
    """The enrolled device whose key signed *request*, or SignatureRefused. Checked once per request:
    the answer is kept on the request, so a second caller does not spend the nonce twice."""
    cached = getattr(request, _VERIFIED_ATTR, None)
    if cached is not None:
        return cached
    parts = _parts(request)
    _check_time(parts)
    try:
        uid = uuid.UUID(parts.key_id)
    except ValueError as exc:
        raise SignatureRefused(_("登録されていない端末です。"), code="unknown_device") from exc
    device = Device.objects.select_related("contract").filter(uid=uid).first()
    if device is None or not device.public_key:
        raise SignatureRefused(_("登録されていない端末です。"), code="unknown_device")
    _check_signature(request, parts, device.public_key)
    _spend_nonce(device.key_fingerprint, parts.nonce)
    setattr(request, _VERIFIED_ATTR, device)
    return device


def verify_enrollment_request(request: HttpRequest, public_key_b64: str) -> str:
    """Check that the enrolment request is signed by the private half of *public_key_b64* (proof of
    possession) and return the key's fingerprint."""
    parts = _parts(request)
    _check_time(parts)
    try:
        fp = wire.fingerprint(public_key_b64)
        wire.load_public_key(public_key_b64)
    except ValueError as exc:
        raise SignatureRefused(_("公開鍵の形式が正しくありません。"), code="bad_public_key") from exc
    if parts.key_id != wire.ENROLL_PREFIX + fp:
        raise SignatureRefused(_("署名ヘッダーの鍵が送信された公開鍵と一致しません。"), code="bad_signature")
    _check_signature(request, parts, public_key_b64)
    _spend_nonce(fp, parts.nonce)
    return fp
