"""Upload tickets: how a device-signed client uploads a large file.

A signed request covers the SHA-256 of its body (``sekisho.agent.signing``), which the server could only check
after holding the whole body — in memory. So a signed client first asks, with a small signed request, for a
ticket: a short-lived token, signed by the server, that names the user, the asset and the device the signature
proved. The upload itself then streams with the ticket in ``X-Sekisho-Vault-Ticket`` and the ordinary bearer
token. The device is checked again (approval, posture) when the upload starts and when it commits, so a ticket
is worth nothing once its device loses access.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core import signing
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.core import policy
from sekisho.devices.policy import DeviceBinding, DeviceRefused, require_device
from sekisho.ledger.models import Asset

HEADER = "X-Sekisho-Vault-Ticket"
SALT = "sekisho.vault.upload-ticket"
TTL = dt.timedelta(minutes=10)


def issue_ticket(request: Any, *, acting_user: Any, asset: Asset) -> tuple[str, dt.datetime]:
    """A ticket for uploading to *asset* from the device that signed *request* (or the session's device)."""
    policy.require(acting_user, "vault.upload", asset, clause="R2.6.2イ")
    device = require_device(request, acting_user, asset.contract)
    token = signing.dumps(
        {"u": acting_user.pk, "a": asset.pk, "d": str(device.uid)}, salt=SALT, compress=False
    )
    return token, timezone.now() + TTL


def binding_from_ticket(token: str, *, acting_user: Any, asset: Asset) -> DeviceBinding:
    try:
        data = signing.loads(token, salt=SALT, max_age=TTL)
    except signing.BadSignature as exc:
        raise DeviceRefused(_("アップロード用チケットが無効か期限切れです。"), clause="R2.7ア") from exc
    if data.get("u") != acting_user.pk or data.get("a") != asset.pk:
        raise DeviceRefused(
            _("このアップロード用チケットはこの利用者・情報のものではありません。"), clause="R2.7ア"
        )
    return DeviceBinding(device_uid=str(data["d"]), source="vault-ticket")
