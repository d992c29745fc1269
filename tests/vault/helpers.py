"""Things vault tests (and the API access matrix) build on: an approved, enrolled, healthy PC made through the
devices services, electronic vault assets, permits, and a running S3-protocol server on loopback."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from django.utils import timezone

from sekisho.agent.signing import fingerprint, public_key_text, sign_request
from sekisho.devices import services as devices
from sekisho.devices.models import Device
from sekisho.devices.policy import DeviceBinding
from sekisho.ledger.models import LocationKind, Medium, Origin
from sekisho.ledger.services import AssetData, register_asset
from sekisho.permits import services as permits

TODAY = dt.date(2026, 8, 3)


def healthy_facts(now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    return {
        "platform": "linux",
        "hostname": "kura-pc-vault",
        "disk_encryption": True,
        "antivirus_enabled": True,
        "antivirus_definitions_updated": (now - dt.timedelta(days=1)).isoformat(),
        "os_updated": (now - dt.timedelta(days=3)).isoformat(),
        "firewall_enabled": True,
        "screen_lock_enabled": True,
        "screen_lock_minutes": 5,
    }


@dataclass
class PC:
    device: Device
    key: Ed25519PrivateKey

    @property
    def binding(self) -> DeviceBinding:
        return DeviceBinding(device_uid=str(self.device.uid))


def make_pc(
    world: Any, owner: Any = None, *, name: str = "VAULT-PC", tag: str = "V-001", healthy: bool = True
) -> PC:
    owner = owner or world.staff
    device = devices.register_device(
        world.contract,
        acting_user=owner,
        name=name,
        kind=Device.Kind.LAPTOP,
        os=Device.OS.LINUX,
        asset_tag=tag,
    )
    device = devices.approve_device(
        device, acting_user=world.manager, approved_until=timezone.now() + dt.timedelta(days=90)
    )
    key = Ed25519PrivateKey.generate()
    _device, code = devices.issue_enrollment_code(device, acting_user=world.manager)
    public = public_key_text(key.public_key())
    devices.enroll_device(code=code, public_key=public, key_fingerprint=fingerprint(public))
    facts = healthy_facts()
    if not healthy:
        facts["disk_encryption"] = False
    devices.record_posture_report(device, collected_at=timezone.now(), facts=facts, agent_version="test")
    device.refresh_from_db()
    return PC(device, key)


def electronic_asset(
    world: Any, *, title: str = "管渠調査報告書", important: bool = True, location: str = "vault"
):
    return register_asset(
        world.contract,
        acting_user=world.manager,
        data=AssetData(
            title=title,
            medium=Medium.ELECTRONIC,
            origin=Origin.DERIVED,
            received_on=dt.date(2026, 7, 1),
            custodian=world.staff,
            location_kind=LocationKind.VAULT if location == "vault" else LocationKind.DEVICE,
            important=important,
        ),
    )


def paper_asset(world: Any):
    return register_asset(
        world.contract,
        acting_user=world.manager,
        data=AssetData(
            title="下水道台帳図（紙）",
            medium=Medium.PAPER,
            origin=Origin.PROVIDED,
            received_on=dt.date(2026, 7, 1),
            custodian=world.staff,
            location_kind=LocationKind.CABINET,
            quantity=1,
        ),
    )


def permit(world: Any, kind: str, assets: list[Any], *, recipient: str = "", approve: bool = True):
    decider = world.orderer if kind not in ("transfer",) else world.manager
    requester = world.staff
    p = permits.request_permit(
        world.contract,
        acting_user=requester,
        kind=kind,
        assets=assets,
        reason="試験",
        recipient=recipient,
        valid_from=dt.date(2026, 7, 1),
        valid_until=dt.date(2027, 3, 1),
    )
    if approve:
        p = permits.decide_permit(p, acting_user=decider, approve=True)
    return p


def put(asset: Any, user: Any, pc: PC, data: bytes, filename: str = "report.pdf"):
    from sekisho.vault import services

    stream = io.BytesIO(data)
    return services.upload_version(
        asset, acting_user=user, device=pc.binding, read=stream.read, length=len(data), filename=filename
    )


def get(asset: Any, user: Any, pc: PC, version: int | None = None) -> bytes:
    from sekisho.vault import services

    return b"".join(services.open_version(asset, acting_user=user, device=pc.binding, version=version).chunks)


def signed_headers(pc: PC, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    headers = sign_request(pc.key, method=method, path=path, body=body, key_id=str(pc.device.uid)).as_dict()
    return {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}


def bound_client(user: Any, pc: PC) -> Client:
    """A verified browser session bound to the PC the way `sekisho agent open` binds it."""
    from tests.conftest import verified_client

    client = verified_client(user)
    _link, token = devices.create_login_link(pc.device)
    response = client.get(f"/devices/bind/{token}/")
    assert response.status_code == 302, response.content
    return client


# --- an S3-protocol server on loopback ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """moto's S3 server as a subprocess on 127.0.0.1 (plain HTTP), stopped by the fixture that made it."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).with_name("moto_server")
        command = [str(exe)] if exe.exists() else [shutil.which("moto_server") or "moto_server"]
        self.log = (workdir / "moto.log").open("wb")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        self.proc = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto_server did not start: {(workdir / 'moto.log').read_text()}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def transfer_package(world: Any):
    """A built transfer package of the main contract, made through the services in a throwaway vault (for
    tests that need one to exist, such as the API access matrix)."""
    import tempfile

    import pyrage
    from django.test import override_settings

    from sekisho.vault import transfer

    with tempfile.TemporaryDirectory(prefix="sekisho-vault-") as tmp:
        root = Path(tmp)
        with override_settings(
            VAULT_DIR=root / "vault",
            SEKISHO_VAULT_BACKEND="filesystem",
            SEKISHO_VAULT_KEY_DIR=root / "keys",
            SEKISHO_MASTER_KEY_FILE=root / "master.key",
            SEKISHO_VAULT_KEY_BACKUPS=[],
        ):
            pc = make_pc(world, name="MATRIX-PC", tag="V-MATRIX")
            asset = electronic_asset(world, title="移送用データ")
            put(asset, world.staff, pc, b"package content")
            p = permit(world, "transfer", [asset], recipient="測量会社")
            return transfer.build_package(
                world.contract,
                acting_user=world.staff,
                device=pc.binding,
                permit=p,
                assets=[asset],
                recipient="測量会社",
                recipient_key=str(pyrage.x25519.Identity.generate().to_public()),
            )
