"""What every collector shares: running a command, and the shape of the facts it returns.

Each platform module is a set of pure parsers (text in, fact out; tested against recorded outputs of the
real commands) plus a thin ``collect(run)`` that runs the commands through *run*, so tests can hand it
recordings instead of a real OS.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict


@dataclass(frozen=True)
class Output:
    returncode: int
    stdout: str
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def text(self) -> str:
        return self.stdout + ("\n" + self.stderr if self.stderr else "")


# A runner takes an argument vector and returns its output, or None when the command is not there or did
# not finish in time.
Runner = Callable[[Sequence[str]], Output | None]


def run_command(args: Sequence[str], timeout: float = 30.0) -> Output | None:
    try:
        done = subprocess.run(  # noqa: S603 - fixed argument vectors, never a shell
            list(args), capture_output=True, text=True, timeout=timeout, check=False, errors="replace"
        )
    except (FileNotFoundError, PermissionError, subprocess.TimeoutExpired, OSError):
        return None
    return Output(done.returncode, done.stdout, done.stderr)


class Facts(TypedDict, total=False):
    platform: str
    hostname: str
    os_name: str
    os_version: str
    disk_encryption: bool | None
    antivirus_enabled: bool | None
    antivirus_product: str
    antivirus_definitions_updated: str | None
    os_updated: str | None
    firewall_enabled: bool | None
    screen_lock_enabled: bool | None
    screen_lock_minutes: int | None
    sources: dict[str, str]


CONTROLS = (
    "disk_encryption",
    "antivirus_enabled",
    "antivirus_definitions_updated",
    "os_updated",
    "firewall_enabled",
    "screen_lock_enabled",
    "screen_lock_minutes",
)


def empty_facts(platform: str) -> Facts:
    facts: dict[str, Any] = {"platform": platform, "sources": {}}
    for control in CONTROLS:
        facts[control] = None
    facts["antivirus_product"] = ""
    return facts  # type: ignore[return-value]


def iso(value: dt.datetime | None) -> str | None:
    """Aware ISO 8601 in UTC, or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.astimezone()  # naive times from OS logs are local time
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def latest(values: list[dt.datetime]) -> dt.datetime | None:
    return max(values) if values else None
