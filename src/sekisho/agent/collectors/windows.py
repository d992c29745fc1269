"""Windows: BitLocker on the system drive, Microsoft Defender (or the antivirus Security Center knows),
Windows Firewall on every profile, the newest installed update, and the lock after inactivity.

PowerShell is asked for JSON where it can give it, because the text of ``manage-bde`` and ``netsh`` is
translated (the Japanese Windows says 保護はオンです); those texts are parsed as fallbacks in both languages.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
import socket
from typing import Any

from .common import Facts, Runner, empty_facts, iso, latest

POWERSHELL = ["powershell", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command"]

PS_BITLOCKER = (
    "Get-BitLockerVolume -MountPoint $env:SystemDrive | "
    "Select-Object MountPoint,VolumeStatus,ProtectionStatus,EncryptionPercentage | ConvertTo-Json"
)
PS_BITLOCKER_SHELL = (
    "(New-Object -ComObject Shell.Application).NameSpace($env:SystemDrive + '\\').Self."
    "ExtendedProperty('System.Volume.BitLockerProtection')"
)
PS_DEFENDER = (
    "Get-MpComputerStatus | Select-Object AMServiceEnabled,AntivirusEnabled,RealTimeProtectionEnabled,"
    "AntivirusSignatureLastUpdated,AntivirusSignatureVersion | ConvertTo-Json"
)
PS_SECURITY_CENTER = (
    "Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntiVirusProduct | "
    "Select-Object displayName,productState | ConvertTo-Json"
)
PS_FIREWALL = "Get-NetFirewallProfile | Select-Object Name,Enabled | ConvertTo-Json"
PS_HOTFIX = (
    "Get-HotFix | Select-Object HotFixID,Description,"
    "@{n='InstalledOn';e={if ($_.InstalledOn) { $_.InstalledOn.ToString('yyyy-MM-dd') }}} | ConvertTo-Json"
)
REG_INACTIVITY = [
    "reg",
    "query",
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System",
    "/v",
    "InactivityTimeoutSecs",
]
REG_SCREENSAVER = ["reg", "query", r"HKCU\Control Panel\Desktop"]


def _json_items(text: str) -> list[dict[str, Any]]:
    """ConvertTo-Json gives an object for one item and an array for several."""
    data = json.loads(text.strip().lstrip("\ufeff") or "null")
    if data is None:
        return []
    return data if isinstance(data, list) else [data]


def _truthy(value: Any) -> bool:
    # Enums come out of Windows PowerShell 5.1 as numbers, out of some cmdlets as "True"/"False".
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == 1
    return str(value).strip().lower() in {"true", "1", "on"}


_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def parse_ps_datetime(value: Any) -> dt.datetime | None:
    """Windows PowerShell 5.1 writes dates as ``/Date(1717995872000)/``; PowerShell 7 as ISO 8601."""
    if value in (None, ""):
        return None
    if isinstance(
        value, dict
    ):  # a DateTime with its ETS properties: {"value": "/Date(...)/", "DateTime": ...}
        value = value.get("value")
    text = str(value)
    match = _MS_DATE.search(text)
    if match:
        return dt.datetime.fromtimestamp(int(match.group(1)) / 1000, tz=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.astimezone()


# --- BitLocker ----------------------------------------------------------------------------------------------


def parse_bitlocker_volume(text: str) -> bool | None:
    items = _json_items(text)
    if not items:
        return None
    status = items[0].get("ProtectionStatus")
    if isinstance(status, str):
        return status.strip().lower() == "on"
    return status == 1


def parse_manage_bde(text: str) -> bool | None:
    """``manage-bde -status C:`` in English or Japanese."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Protection Status":
            return value.lower().startswith("protection on")
        if key == "保護状態":
            return "オン" in value
    return None


def parse_bitlocker_shell_property(text: str) -> bool | None:
    """System.Volume.BitLockerProtection: 1 on, 2 off, 3 encrypting, 4 decrypting, 5 suspended,
    6 on (locked), 0 cannot be encrypted. Readable without administrator rights."""
    value = text.strip()
    if not value.isdigit():
        return None
    return int(value) in (1, 6)


# --- antivirus ----------------------------------------------------------------------------------------------


def parse_defender(text: str) -> tuple[bool | None, dt.datetime | None]:
    items = _json_items(text)
    if not items:
        return None, None
    item = items[0]
    enabled = all(
        _truthy(item.get(k)) for k in ("AMServiceEnabled", "AntivirusEnabled", "RealTimeProtectionEnabled")
    )
    return enabled, parse_ps_datetime(item.get("AntivirusSignatureLastUpdated"))


def parse_security_center(text: str) -> tuple[bool | None, bool | None, str]:
    """SecurityCenter2 AntiVirusProduct: (some product on?, its definitions up to date?, its name).

    ``productState`` packs the state in bytes: 0x__10__ / 0x__11__ means real-time protection on, and a
    low byte 0x00 means the definitions are up to date (0x10: out of date)."""
    best: tuple[bool | None, bool | None, str] = (None, None, "")
    for item in _json_items(text):
        try:
            state = int(str(item.get("productState")))
        except (TypeError, ValueError):
            continue
        on = ((state >> 8) & 0xFF) in (0x10, 0x11)
        up_to_date = (state & 0xFF) == 0x00
        candidate = (on, up_to_date, str(item.get("displayName", "")))
        if (on and (best[0] is not True or up_to_date)) or best[0] is None:
            best = candidate
    return best


# --- firewall -----------------------------------------------------------------------------------------------


def parse_firewall_profiles(text: str) -> bool | None:
    items = _json_items(text)
    if not items:
        return None
    return all(_truthy(item.get("Enabled")) for item in items)


def parse_netsh_firewall(text: str) -> bool | None:
    """``netsh advfirewall show allprofiles state``: every profile's State ON (状態 オン)."""
    states = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("State", "状態"):
            states.append(parts[-1].upper() in ("ON", "オン"))
    return all(states) if states else None


# --- updates ------------------------------------------------------------------------------------------------


def parse_hotfixes(text: str) -> dt.datetime | None:
    found = []
    for item in _json_items(text):
        value = item.get("InstalledOn")
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            found.append(dt.datetime.fromisoformat(value).astimezone())
        else:
            parsed = parse_ps_datetime(value)
            if parsed:
                found.append(parsed)
    return latest(found)


# --- screen lock --------------------------------------------------------------------------------------------


def parse_reg_values(text: str) -> dict[str, str]:
    """``reg query`` output: ``    Name    REG_TYPE    value`` lines."""
    values = {}
    for line in text.splitlines():
        match = re.match(r"^\s{2,}(\S.*?)\s{2,}(REG_\w+)\s{2,}(.*?)\s*$", line)
        if match:
            name, kind, value = match.groups()
            if kind == "REG_DWORD" and value.lower().startswith("0x"):
                value = str(int(value, 16))
            values[name] = value
    return values


def screen_lock_from_registry(
    inactivity: dict[str, str], desktop: dict[str, str]
) -> tuple[bool | None, int | None]:
    """The machine inactivity limit (a policy that locks the session) wins; otherwise a password-protected
    screen saver locks after its timeout."""
    seconds = inactivity.get("InactivityTimeoutSecs", "")
    if seconds.isdigit() and int(seconds) > 0:
        return True, max(1, -(-int(seconds) // 60))
    if not desktop:
        return None, None
    active = desktop.get("ScreenSaveActive", "0") == "1"
    secure = desktop.get("ScreenSaverIsSecure", "0") == "1"
    timeout = desktop.get("ScreenSaveTimeOut", "0")
    if not (active and secure and timeout.isdigit() and int(timeout) > 0):
        return False, None
    return True, max(1, -(-int(timeout) // 60))


# --- the runner ---------------------------------------------------------------------------------------------


def collect(run: Runner, *, now: dt.datetime | None = None) -> Facts:
    facts = empty_facts("windows")
    sources = facts["sources"]
    facts["hostname"] = socket.gethostname()
    release, version, _csd, _ptype = platform.win32_ver()
    facts["os_name"] = f"Windows {release}".strip()
    facts["os_version"] = version

    def ps(script: str) -> str | None:
        out = run([*POWERSHELL, script])
        return out.stdout if out and out.ok and out.stdout.strip() else None

    for label, getter, parser in (
        ("Get-BitLockerVolume", lambda: ps(PS_BITLOCKER), parse_bitlocker_volume),
        ("manage-bde -status", lambda: _ok(run(["manage-bde", "-status", "C:"])), parse_manage_bde),
        ("Shell BitLockerProtection", lambda: ps(PS_BITLOCKER_SHELL), parse_bitlocker_shell_property),
    ):
        text = getter()
        if text is None:
            continue
        try:
            value = parser(text)
        except ValueError:
            continue
        if value is not None:
            facts["disk_encryption"], sources["disk_encryption"] = value, label
            break

    text = ps(PS_DEFENDER)
    enabled, defs = parse_defender(text) if text else (None, None)
    if enabled:
        facts["antivirus_enabled"], facts["antivirus_product"] = True, "Microsoft Defender Antivirus"
        facts["antivirus_definitions_updated"] = iso(defs)
        sources["antivirus_enabled"] = "Get-MpComputerStatus"
    else:
        text = ps(PS_SECURITY_CENTER)
        on, fresh, name = parse_security_center(text) if text else (None, None, "")
        facts["antivirus_enabled"], facts["antivirus_product"] = on, name
        if on and fresh:
            # Security Center tells only "up to date", not a date: count them as current at collection.
            facts["antivirus_definitions_updated"] = iso(now or dt.datetime.now(dt.UTC))
        sources["antivirus_enabled"] = "SecurityCenter2 AntiVirusProduct"

    text = ps(PS_FIREWALL)
    value = parse_firewall_profiles(text) if text else None
    if value is None:
        netsh = _ok(run(["netsh", "advfirewall", "show", "allprofiles", "state"]))
        value = parse_netsh_firewall(netsh) if netsh else None
        sources["firewall_enabled"] = "netsh advfirewall"
    else:
        sources["firewall_enabled"] = "Get-NetFirewallProfile"
    facts["firewall_enabled"] = value

    text = ps(PS_HOTFIX)
    facts["os_updated"] = iso(parse_hotfixes(text)) if text else None
    sources["os_updated"] = "Get-HotFix"

    inactivity = run(REG_INACTIVITY)
    desktop = run(REG_SCREENSAVER)
    facts["screen_lock_enabled"], facts["screen_lock_minutes"] = screen_lock_from_registry(
        parse_reg_values(inactivity.stdout) if inactivity and inactivity.ok else {},
        parse_reg_values(desktop.stdout) if desktop and desktop.ok else {},
    )
    sources["screen_lock_enabled"] = "InactivityTimeoutSecs / ScreenSaverIsSecure"
    return facts


def _ok(out: Any) -> str | None:
    return out.stdout if out is not None and out.ok else None
