"""Helpers for device tests: an approved, enrolled PC with a real Ed25519 key, healthy facts, and a test
client that signs its requests the way the agent does."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from django.utils import timezone

from sekisho.agent.signing import fingerprint, public_key_text, sign_request
from sekisho.devices import services
from sekisho.devices.models import Device, DeviceKind


def healthy_facts(now: dt.datetime | None = None, **overrides: Any) -> dict[str, Any]:
    now = now or timezone.now()
    facts: dict[str, Any] = {
        "platform": "windows",
        "hostname": "KURA-PC-017",
        "os_name": "Windows 11",
        "os_version": "10.0.22631",
        "disk_encryption": True,
        "antivirus_enabled": True,
        "antivirus_product": "Microsoft Defender Antivirus",
        "antivirus_definitions_updated": (now - dt.timedelta(days=1)).isoformat(),
        "os_updated": (now - dt.timedelta(days=10)).isoformat(),
        "firewall_enabled": True,
        "screen_lock_enabled": True,
        "screen_lock_minutes": 10,
        "sources": {"disk_encryption": "Get-BitLockerVolume"},
    }
    facts.update(overrides)
    return facts


@dataclass
class PC:
    device: Device
    key: Ed25519PrivateKey

    def refresh(self) -> Device:
        self.device.refresh_from_db()
        return self.device


def register(world, *, owner=None, name="KURA-PC-017", asset_tag="A-017") -> Device:
    owner = owner or world.staff
    return services.register_device(
        world.contract,
        acting_user=owner,
        name=name,
        kind=DeviceKind.LAPTOP,
        os=Device.OS.WINDOWS,
        asset_tag=asset_tag,
    )


def approve(world, device: Device, days: int = 180) -> Device:
    return services.approve_device(
        device, acting_user=world.manager, approved_until=timezone.now() + dt.timedelta(days=days)
    )


def enroll(world, device: Device, key: Ed25519PrivateKey | None = None) -> Ed25519PrivateKey:
    key = key or Ed25519PrivateKey.generate()
    _device, code = services.issue_enrollment_code(device, acting_user=world.manager)
    public = public_key_text(key.public_key())
    services.enroll_device(code=code, public_key=public, key_fingerprint=fingerprint(public))
    return key


def report(device: Device, facts: dict[str, Any] | None = None):
    return services.record_posture_report(
        device, collected_at=timezone.now(), facts=facts or healthy_facts(), agent_version="test"
    )


@pytest.fixture
def make_pc(world):
    """An approved, enrolled PC of *owner* (default: staff), with a passing report unless told otherwise."""

    def make(*, owner=None, name="KURA-PC-017", asset_tag="A-017", facts=None, reported=True) -> PC:
        device = approve(world, register(world, owner=owner, name=name, asset_tag=asset_tag))
        key = enroll(world, device)
        if reported:
            report(device, facts)
        device.refresh_from_db()
        return PC(device, key)

    return make


def signed(
    client: Client,
    key: Ed25519PrivateKey,
    key_id: str,
    method: str,
    path: str,
    payload: Any = None,
    *,
    raw: bytes | None = None,
    timestamp: int | None = None,
    nonce: str | None = None,
):
    """Send a request signed the agent's way through the Django test client."""
    body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode("utf-8"))
    headers = sign_request(
        key, method=method, path=path, body=body, key_id=key_id, timestamp=timestamp, nonce=nonce
    ).as_dict()
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    if method == "GET":
        return client.get(path, **extra)
    return client.generic(method, path, data=body, content_type="application/json", **extra)
