"""macOS: FileVault (fdesetup), the application firewall (socketfilterfw), installed updates and XProtect
definitions (softwareupdate --history), Gatekeeper/XProtect (spctl), and the screen lock (sysadminctl,
screensaver idle time, display sleep)."""

from __future__ import annotations

import datetime as dt
import re
import socket

from .common import Facts, Runner, empty_facts, iso, latest

# Background security data updates: these are the antivirus definitions of macOS, not OS updates.
XPROTECT_NAMES = ("XProtect", "MRT", "Gatekeeper", "Background Task Management")


def parse_fdesetup(text: str) -> bool | None:
    if "FileVault is On" in text:
        return not re.search(r"(Encryption|Decryption) in progress", text)
    if "FileVault is Off" in text:
        return False
    return None


def parse_socketfilterfw(text: str) -> bool | None:
    match = re.search(r"State\s*=\s*(\d)", text)
    if match:
        return match.group(1) in ("1", "2")
    if "enabled" in text:
        return True
    if "disabled" in text:
        return False
    return None


_HISTORY_ROW = re.compile(r"^(?P<name>\S.*?)\s{2,}(?P<version>\S+)\s{2,}(?P<date>\d.*?)\s*$")
_DATE_FORMATS = ("%m/%d/%Y, %H:%M:%S", "%Y/%m/%d, %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%d.%m.%Y, %H:%M:%S")


def _parse_history_date(text: str) -> dt.datetime | None:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).astimezone()
        except ValueError:
            continue
    return None


def parse_softwareupdate_history(text: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(newest OS/app update, newest XProtect-style definitions update) from ``softwareupdate --history``."""
    os_updates, definitions = [], []
    for line in text.splitlines():
        match = _HISTORY_ROW.match(line)
        if not match or match.group("name").startswith(("Display Name", "---")):
            continue
        when = _parse_history_date(match.group("date"))
        if when is None:
            continue
        if match.group("name").startswith(XPROTECT_NAMES):
            definitions.append(when)
        else:
            os_updates.append(when)
    return latest(os_updates), latest(definitions)


def parse_spctl_status(text: str) -> bool | None:
    if "assessments enabled" in text:
        return True
    if "assessments disabled" in text:
        return False
    return None


def parse_sysadminctl_screenlock(text: str) -> tuple[bool | None, int | None]:
    """``sysadminctl -screenLock status`` (printed on stderr): (lock on?, delay in seconds)."""
    if re.search(r"screenLock is off", text):
        return False, None
    if re.search(r"screenLock delay is immediate", text):
        return True, 0
    match = re.search(r"screenLock delay is (\d+) seconds", text)
    if match:
        return True, int(match.group(1))
    return None, None


def parse_pmset_displaysleep(text: str) -> int | None:
    match = re.search(r"^\s*displaysleep\s+(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def parse_idle_time(text: str) -> int | None:
    value = text.strip()
    return int(value) if value.isdigit() else None


def screen_lock(
    lock: tuple[bool | None, int | None], idle_seconds: int | None, display_sleep_minutes: int | None
) -> tuple[bool | None, int | None]:
    """The screen locks when the screen saver starts or the display sleeps (whichever comes first), plus
    the lock delay."""
    enabled, delay = lock
    if enabled is None:
        return None, None
    if not enabled:
        return False, None
    candidates = [s for s in ((idle_seconds or 0), (display_sleep_minutes or 0) * 60) if s > 0]
    if not candidates:
        return False, None
    return True, max(1, -(-(min(candidates) + (delay or 0)) // 60))


def parse_sw_vers(text: str) -> tuple[str, str]:
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in text.splitlines()) if v
    )
    return fields.get("ProductName", "macOS"), fields.get("ProductVersion", "")


def collect(run: Runner) -> Facts:
    facts = empty_facts("macos")
    sources = facts["sources"]
    facts["hostname"] = socket.gethostname()
    out = run(["sw_vers"])
    facts["os_name"], facts["os_version"] = parse_sw_vers(out.stdout) if out and out.ok else ("macOS", "")

    out = run(["fdesetup", "status"])
    if out and out.ok:
        facts["disk_encryption"], sources["disk_encryption"] = parse_fdesetup(out.stdout), "fdesetup status"

    out = run(["/usr/libexec/ApplicationFirewall/socketfilterfw", "--getglobalstate"])
    if out and out.ok:
        facts["firewall_enabled"] = parse_socketfilterfw(out.stdout)
        sources["firewall_enabled"] = "socketfilterfw --getglobalstate"

    out = run(["softwareupdate", "--history"])
    if out and out.ok:
        updated, definitions = parse_softwareupdate_history(out.stdout)
        facts["os_updated"], facts["antivirus_definitions_updated"] = iso(updated), iso(definitions)
        sources["os_updated"] = "softwareupdate --history"

    out = run(["spctl", "--status"])
    if out is not None:
        facts["antivirus_enabled"] = parse_spctl_status(out.text)
        facts["antivirus_product"] = "XProtect / Gatekeeper"
        sources["antivirus_enabled"] = "spctl --status"

    lock = run(["sysadminctl", "-screenLock", "status"])
    idle = run(["defaults", "-currentHost", "read", "com.apple.screensaver", "idleTime"])
    pmset = run(["pmset", "-g"])
    if lock is not None:
        facts["screen_lock_enabled"], facts["screen_lock_minutes"] = screen_lock(
            parse_sysadminctl_screenlock(lock.text),
            parse_idle_time(idle.stdout) if idle and idle.ok else None,
            parse_pmset_displaysleep(pmset.stdout) if pmset and pmset.ok else None,
        )
        sources["screen_lock_enabled"] = "sysadminctl -screenLock; screensaver idleTime; pmset displaysleep"
    return facts
