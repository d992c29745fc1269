"""The production server killed with SIGKILL in the middle of the work that writes the most: a vault upload, a
transfer package build and an .xlsx ledger import. After a restart: no partial record (no version, no
package, not one imported row), no plaintext on disk, and the audit chains still verify. ``vault verify
--clean`` removes the partial ciphertext a killed writer leaves.

(tests/vault/test_interrupted_server.py covers an upload cut short by the client as well.)
"""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sekisho.agent.signing import sign_request

from .server import DEMO_CONTRACT, PASSWORD, Server, files_with, throwaway_database, wait_for

pytestmark = pytest.mark.django_db  # only for the test database's settings; the server has its own

SETUP = f"""
import json, types
import pyrage
from sekisho.core.auth import issue_api_token
from sekisho.core.models import Contract, User
from tests.people.clearing import clear_contract
from tests.vault.helpers import electronic_asset, make_pc, permit

contract = Contract.objects.get(number={DEMO_CONTRACT!r})
world = types.SimpleNamespace(
    contract=contract,
    manager=User.objects.get(username="manager"),
    staff=User.objects.get(username="staff"),
)
from sekisho.people.models import RosterEntry
if not RosterEntry.objects.filter(contract=contract, user=world.staff).exists():  # the demo may have done it
    clear_contract(contract, world.manager, [world.staff])
asset = electronic_asset(world, title="中断試験")
pc = make_pc(world)
transfer_permit = permit(world, "transfer", [asset], recipient="測量会社")
_token, staff_token = issue_api_token(world.staff, acting_user=world.staff, name="faults")
_token, manager_token = issue_api_token(world.manager, acting_user=world.manager, name="faults")
print(json.dumps({{
    "contract": contract.pk, "asset": asset.pk, "permit": transfer_permit.pk,
    "staff_token": staff_token, "manager_token": manager_token,
    "device": str(pc.device.uid), "key": pc.key.private_bytes_raw().hex(),
    "recipient": str(pyrage.x25519.Identity.generate().to_public()),
}}))
"""
COUNTS = """
import json
from sekisho.ledger.models import Asset
from sekisho.vault.models import TransferPackage, VaultObject
print(json.dumps({
    "versions": VaultObject.objects.count(),
    "packages": TransferPackage.objects.count(),
    "marked_assets": Asset.objects.filter(title__startswith=%r).count(),
    "states": sorted(set(Asset.objects.filter(title="中断試験").values_list("state", flat=True))),
}))
"""
IMPORT_ROWS = 10_000


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[Server, dict[str, Any]]]:
    with throwaway_database("faults") as database_url:
        srv = Server(tmp_path_factory.mktemp("faults-kill"), database_url)
        try:
            srv.sekisho("migrate", "-v0")
            srv.sekisho("demo", "--password", PASSWORD)
            info = srv.shell_json(SETUP)
            srv.start()
            yield srv, info
        finally:
            srv.stop()


def counts(srv: Server, marker: str = "no-such-title-prefix") -> dict[str, Any]:
    return srv.shell_json(COUNTS % marker)


def restart_and_verify(srv: Server) -> None:
    """After a kill: the server comes back, every audit chain re-hashes to its stored state, and the partial
    ciphertext of a killed writer is found and removed."""
    srv.start()
    srv.sekisho("audit", "check")
    report = srv.sekisho("vault", "verify", "--clean", "--older-than", "0")
    assert srv.partials() == [], report
    srv.sekisho("audit", "check")


def _key(info: dict[str, Any]) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(info["key"]))


def _content_base(info: dict[str, Any]) -> str:
    return f"/api/v1/contracts/{info['contract']}/assets/{info['asset']}/content"


def _ticket(srv: Server, info: dict[str, Any]) -> str:
    path = f"{_content_base(info)}/ticket"
    headers = sign_request(_key(info), method="POST", path=path, body=b"", key_id=info["device"]).as_dict()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request(
        "POST", path, body=b"", headers={**headers, "Authorization": f"Bearer {info['staff_token']}"}
    )
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.status == 200, body
    return json.loads(body)["ticket"]


def start_upload(srv: Server, info: dict[str, Any], total: int) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
    conn.putrequest("PUT", _content_base(info))
    conn.putheader("Authorization", f"Bearer {info['staff_token']}")
    conn.putheader("X-Sekisho-Vault-Ticket", _ticket(srv, info))
    conn.putheader("X-Sekisho-Filename", "faults.csv")
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(total))
    conn.endheaders()
    return conn


def plaintext(marker: bytes, size: int) -> bytes:
    line = marker + ",倉敷市,下水道使用者情報,086-000-0000\n".encode()
    return (line * (size // len(line) + 1))[:size]


def assert_no_plaintext(srv: Server, marker: bytes, since: float) -> None:
    leaked = files_with(marker, [srv.data_dir, srv.tmp, Path("/tmp")], since=since)
    assert leaked == [], f"plaintext of the upload on disk: {leaked}"


def test_upload_killed_midway_leaves_no_version_and_no_plaintext(server):
    srv, info = server
    started = time.time() - 1
    marker = f"SEKISHO-KILL-UPLOAD-{uuid.uuid4().hex}".encode()
    conn = start_upload(srv, info, 64 << 20)
    conn.send(plaintext(marker, 4 << 20))
    assert wait_for(lambda: any(p.stat().st_size > 1 << 20 for p in srv.partials())), (
        "the upload did not start"
    )
    srv.kill()
    conn.close()
    assert counts(srv)["versions"] == 0, "a version without its last segment"
    assert srv.partials(), "the killed writer's partial ciphertext is there, to be cleaned"
    assert_no_plaintext(srv, marker, started)
    restart_and_verify(srv)


def test_transfer_build_killed_midway_leaves_no_package_and_no_plaintext(server):
    srv, info = server
    started = time.time() - 1
    marker = f"SEKISHO-KILL-TRANSFER-{uuid.uuid4().hex}".encode()
    size = 96 << 20
    conn = start_upload(srv, info, size)
    body = plaintext(marker, size)
    for offset in range(0, size, 1 << 20):
        conn.send(body[offset : offset + (1 << 20)])
    response = conn.getresponse()
    assert response.status == 201, response.read()
    conn.close()
    assert counts(srv)["versions"] == 1

    path = f"/api/v1/contracts/{info['contract']}/transfers"
    payload = json.dumps(
        {
            "permit_id": info["permit"],
            "asset_ids": [info["asset"]],
            "recipient": "測量会社",
            "recipient_key": info["recipient"],
        }
    ).encode()
    headers = sign_request(
        _key(info), method="POST", path=path, body=payload, key_id=info["device"]
    ).as_dict()
    answer: dict[str, Any] = {}

    def build() -> None:
        try:
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
            c.request(
                "POST",
                path,
                body=payload,
                headers={
                    **headers,
                    "Authorization": f"Bearer {info['staff_token']}",
                    "Content-Type": "application/json",
                },
            )
            r = c.getresponse()
            answer["status"], answer["body"] = r.status, r.read()
        except (OSError, http.client.HTTPException) as exc:
            answer["error"] = exc

    thread = threading.Thread(target=build, daemon=True)
    thread.start()
    growing = wait_for(
        lambda: any(p.stat().st_size > 4 << 20 for p in srv.partials()), timeout=60, step=0.005
    )
    srv.kill()
    thread.join(timeout=30)
    assert growing, f"the package build was not caught midway: {answer}"
    assert "status" not in answer, f"the build finished before the kill: {answer}"
    after = counts(srv)
    assert after["packages"] == 0, "a package row without its file"
    assert after["states"] == ["vault"] or "in_transit" not in after["states"], after
    assert_no_plaintext(srv, marker, started)
    restart_and_verify(srv)


def xlsx(marker: str, rows: int) -> bytes:
    from openpyxl import Workbook

    from sekisho.ledger.xlsx_export import HEADERS

    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(list(HEADERS))
    index = {h: i for i, h in enumerate(HEADERS)}
    for n in range(rows):
        row: list[Any] = [None] * len(HEADERS)
        for header, value in (
            ("名称", f"{marker}-{n:06d}"),
            ("媒体", "紙"),
            ("由来", "発注者から貸与・提供"),
            ("受領・作成日", "2026/07/01"),
            ("管理者", "staff"),
            ("保管場所の種別", "書庫・保管室"),
            ("数量", 1),
        ):
            row[index[header]] = value
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _post_import(
    srv: Server, info: dict[str, Any], content: bytes, timeout: float
) -> http.client.HTTPConnection:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="ledger.xlsx"\r\n'
            "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    conn.request(
        "POST",
        f"/api/v1/contracts/{info['contract']}/assets/import",
        body=body,
        headers={
            "Authorization": f"Bearer {info['manager_token']}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    return conn


def test_import_killed_midway_leaves_not_one_row(server):
    srv, info = server
    # A whole import first, timed: the kill then lands at 60% of that time, in the middle of the writes (reading
    # and checking the rows take about the first third), however fast the machine.
    whole = f"WHOLEIMPORT{uuid.uuid4().hex[:12]}"
    began = time.monotonic()
    conn = _post_import(srv, info, xlsx(whole, IMPORT_ROWS), timeout=600)
    response = conn.getresponse()
    assert response.status == 201, response.read()[:500]
    took = time.monotonic() - began
    assert counts(srv, whole)["marked_assets"] == IMPORT_ROWS

    started = time.time() - 1
    marker = f"KILLIMPORT{uuid.uuid4().hex[:12]}"
    conn = _post_import(srv, info, xlsx(marker, IMPORT_ROWS), timeout=600)
    time.sleep(took * 0.6)
    srv.kill()
    with pytest.raises((OSError, http.client.HTTPException)):
        conn.getresponse()  # no answer: the import was cut short
    conn.close()
    assert counts(srv, marker)["marked_assets"] == 0, "an import is all rows or none"
    skip_database = lambda p: "sekisho.sqlite3" in p.name  # noqa: E731 - ledger metadata lives there, by design
    assert files_with(marker.encode(), [srv.data_dir, srv.tmp], since=started, skip=skip_database) == []
    restart_and_verify(srv)
