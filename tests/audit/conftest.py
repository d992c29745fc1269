from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import transaction

from sekisho.audit import export, keys, merkle, services, signing
from sekisho.audit.canonical import canonical_json
from sekisho.audit.verify import EXPORT_FORMAT, EXPORT_VERSION


def grow(contract, actor, count: int) -> None:
    """Append *count* ordinary events to the contract's log."""
    with transaction.atomic():
        for i in range(count):
            services.record(
                actor=actor, action="test.event", contract=contract, summary={"n": i, "memo": "点検"}
            )


def write_export(path: Path, result: services.Export) -> Path:
    with path.open("wb") as fh:
        for line in export.export_lines(result):
            fh.write(line)
    return path


@pytest.fixture
def exported(world, tmp_path) -> Callable[..., Path]:
    """Export the main contract (as the orderer) into a file; returns its path."""

    def make(name: str = "export.jsonl", extra_events: int = 0) -> Path:
        if extra_events:
            grow(world.contract, world.manager, extra_events)
        return write_export(
            tmp_path / name, services.export_contract(world.contract, acting_user=world.orderer)
        )

    return make


@pytest.fixture
def pubkey_file(tmp_path) -> Path:
    path = tmp_path / "deployment.pem"
    path.write_text(signing.public_key_pem(keys.public_key()), encoding="ascii")
    return path


def synthetic_export(
    path: Path, count: int, key: Ed25519PrivateKey, *, stream: str = "contract:99"
) -> list[bytes]:
    """An export written without a database (for sizes the database tests would take too long to make)."""
    lines: list[bytes] = []
    prev = ""
    for i in range(count):
        body = canonical_json(
            {"stream": stream, "index": i, "action": "bulk", "prev_hash": prev, "summary": {}}
        )
        prev = hashlib.sha256(body).hexdigest()
        lines.append(body)
    root = merkle.root_of_leaf_hashes([merkle.leaf_hash(x) for x in lines])
    head = signing.sign(
        signing.TreeHead(stream=stream, size=count, root_hash=root.hex(), head_hash=prev, timestamp_ms=1_000),
        key,
    )
    header = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "stream": stream,
        "tree_head": head.to_dict(),
        "public_key": {"algorithm": "Ed25519", "base64": signing.public_key_b64(key.public_key())},
    }
    with path.open("wb") as fh:
        fh.write(json.dumps(header).encode() + b"\n")
        for body in lines:
            fh.write(body + b"\n")
    return lines
