from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.tools import once_per_make_test

from .harness import Deployment, Deployments, build_source, identity

PASSPHRASE = "correct horse battery staple 関所"


@pytest.fixture(scope="session", autouse=True)
def _once() -> None:
    # These tests build their own SQLite and PostgreSQL deployments whatever the suite's database is.
    once_per_make_test("sqlite")


@pytest.fixture(scope="module")
def deployments() -> Iterator[Deployments]:
    made = Deployments()
    try:
        yield made
    finally:
        made.close()


@dataclass
class Source:
    """A deployment with the realistic dataset, backed up twice: archive A to an age identity (the snapshot
    is taken right after it), archive B to a passphrase."""

    deployment: Deployment
    summary: dict[str, Any]
    identity: Path
    recipient: str
    archive: Path
    keys: Path
    snapshot: dict[str, Any]
    backup_output: str
    backup_seconds: float
    archive_b: Path
    keys_b: Path
    passphrase_file: Path


def backup(deployment: Deployment, directory: Path, *args: str) -> tuple[Path, Path, str]:
    out_dir, key_dir = directory / "archives", directory / "keys"
    out_dir.mkdir(parents=True, exist_ok=True)
    key_dir.mkdir(parents=True, exist_ok=True)
    result = deployment.run("backup", "-o", str(out_dir), "--keys-output", str(key_dir), *args)
    archive, keys = result.stdout.strip().splitlines()[-2:]
    return Path(archive), Path(keys), result.stderr


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def source(request: pytest.FixtureRequest, deployments: Deployments) -> Source:
    return make_source(deployments, request.param)


_SOURCES: dict[tuple[int, str], Source] = {}


def make_source(deployments: Deployments, kind: str) -> Source:
    """Built once per module and database kind."""
    key = (id(deployments), kind)
    if key not in _SOURCES:
        _SOURCES[key] = _build(deployments, kind)
    return _SOURCES[key]


def _build(deployments: Deployments, kind: str) -> Source:
    deployment = deployments.new(kind, "source")
    summary = build_source(deployment)
    ident, recipient = identity(deployments.root)
    started = time.monotonic()
    archive, keys, output = backup(deployment, deployments.root / f"backups-{kind}-a", "-r", recipient)
    seconds = time.monotonic() - started
    snapshot = deployment.snapshot()
    passphrase_file = deployments.root / "passphrase.txt"
    passphrase_file.write_text(PASSPHRASE + "\n", encoding="utf-8")
    archive_b, keys_b, _ = backup(
        deployment, deployments.root / f"backups-{kind}-b", "--passphrase-file", str(passphrase_file)
    )
    return Source(
        deployment,
        summary,
        ident,
        recipient,
        archive,
        keys,
        snapshot,
        output,
        seconds,
        archive_b,
        keys_b,
        passphrase_file,
    )


@pytest.fixture(scope="module")
def sqlite_source(deployments: Deployments) -> Source:
    return make_source(deployments, "sqlite")


@pytest.fixture(scope="module")
def empty_target(deployments: Deployments) -> Deployment:
    """A SQLite deployment that refusals must leave exactly as empty as they found it."""
    return deployments.new("sqlite", "empty")


def assert_untouched(target: Deployment) -> None:
    assert target.tables() == [], "no table was created"
    assert target.files() == [], "no blob or key was written"
