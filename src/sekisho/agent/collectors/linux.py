"""Linux: LUKS under the root file system (lsblk), the firewall (ufw, firewalld, nftables or iptables),
the last package upgrade (apt or dnf history), ClamAV or Microsoft Defender for Endpoint, and the GNOME
screen lock (gsettings)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import platform
import re
import socket
from pathlib import Path
from typing import Any

from .common import Facts, Runner, empty_facts, iso, latest

# --- disk encryption ----------------------------------------------------------------------------------------


def parse_lsblk_root_encrypted(text: str) -> bool | None:
    """From ``lsblk -o NAME,TYPE,FSTYPE,MOUNTPOINT -J``: is the device mounted at / inside a dm-crypt
    (LUKS) mapping? None when no device is mounted at /."""
    data = json.loads(text)

    def mountpoints(node: dict[str, Any]) -> list[str]:
        points = node.get("mountpoints") or []
        if node.get("mountpoint"):
            points = [*points, node["mountpoint"]]
        return [p for p in points if p]

    def walk(node: dict[str, Any], encrypted_above: bool) -> bool | None:
        encrypted = encrypted_above or node.get("type") == "crypt" or node.get("fstype") == "crypto_LUKS"
        if "/" in mountpoints(node):
            return encrypted
        for child in node.get("children") or []:
            found = walk(child, encrypted)
            if found is not None:
                return found
        return None

    for device in data.get("blockdevices") or []:
        found = walk(device, False)
        if found is not None:
            return found
    return None


# --- firewall -----------------------------------------------------------------------------------------------


def parse_ufw_status(text: str) -> bool | None:
    match = re.search(r"^Status:\s*(\w+)", text, re.MULTILINE)
    if not match:
        return None
    return match.group(1).lower() == "active"


def parse_firewall_cmd_state(text: str) -> bool | None:
    state = text.strip().splitlines()[0].strip().lower() if text.strip() else ""
    if state == "running":
        return True
    if state == "not running":
        return False
    return None


def parse_nft_ruleset(text: str) -> bool:
    """A firewall is on when some input-hook chain drops by default or has a drop/reject rule."""
    chain_re = re.compile(r"chain\s+\S+\s*\{(.*?)\n\s*\}", re.DOTALL)
    for chain in chain_re.findall(text):
        if not re.search(r"hook\s+input\b", chain):
            continue
        if re.search(r"policy\s+drop\s*;", chain) or re.search(
            r"^\s*(?!.*policy).*\b(drop|reject)\b", chain, re.M
        ):
            return True
    return False


def parse_iptables_rules(text: str) -> bool:
    """From ``iptables -S``: the INPUT chain drops by default or has a DROP/REJECT rule."""
    for line in text.splitlines():
        parts = line.split()
        if parts[:3] == ["-P", "INPUT", "DROP"]:
            return True
        if parts[:2] == ["-A", "INPUT"] and ("DROP" in parts or "REJECT" in parts):
            return True
    return False


# --- updates ------------------------------------------------------------------------------------------------

_APT_END = re.compile(r"^End-Date:\s*(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2})", re.MULTILINE)


def parse_apt_history(text: str) -> dt.datetime | None:
    """The end of the last apt run that upgraded packages (``/var/log/apt/history.log``; local time)."""
    found: list[dt.datetime] = []
    for entry in re.split(r"\n\s*\n", text):
        if not re.search(r"^Upgrade:", entry, re.MULTILINE):
            continue
        match = _APT_END.search(entry)
        if match:
            found.append(dt.datetime.fromisoformat(f"{match.group(1)} {match.group(2)}").astimezone())
    return latest(found)


def parse_dnf_history(text: str) -> dt.datetime | None:
    """From ``dnf history list``: the newest transaction whose actions include an upgrade (U)."""
    found: list[dt.datetime] = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 4 or not cells[0].isdigit():
            continue
        actions = cells[3]
        if "U" in actions.replace(",", " ").split() or "Upgrade" in actions or "Update" in actions:
            try:
                found.append(dt.datetime.strptime(cells[2][:16], "%Y-%m-%d %H:%M").astimezone())
            except ValueError:
                continue
    return latest(found)


# --- antivirus ----------------------------------------------------------------------------------------------


def parse_clamscan_version(text: str) -> dt.datetime | None:
    """``clamscan --version`` → ``ClamAV 1.0.5/27300/Mon Jun 10 08:24:32 2024``: the date is the
    signature database's."""
    match = re.search(r"ClamAV\s+[\d.]+/\d+/(.+)$", text.strip(), re.MULTILINE)
    if not match:
        return None
    try:
        return dt.datetime.strptime(match.group(1).strip(), "%a %b %d %H:%M:%S %Y").astimezone()
    except ValueError:
        return None


def parse_systemctl_active(text: str) -> bool:
    return text.strip().splitlines()[0].strip() == "active" if text.strip() else False


def parse_mdatp_health(text: str, now: dt.datetime | None = None) -> tuple[bool | None, dt.datetime | None]:
    """``mdatp health``: real-time protection on? and when the definitions were updated."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line:
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip().strip('"')
    if not fields:
        return None, None
    enabled = None
    if "real_time_protection_enabled" in fields:
        enabled = (
            fields["real_time_protection_enabled"].lower() == "true"
            and fields.get("healthy", "true").lower() == "true"
        )
    updated = None
    minutes = fields.get("definitions_updated_minutes_ago", "")
    if minutes.isdigit():
        updated = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=int(minutes))
    return enabled, updated


# --- screen lock --------------------------------------------------------------------------------------------


def parse_gsettings_uint(text: str) -> int | None:
    match = re.search(r"(?:uint32\s+)?(\d+)\s*$", text.strip())
    return int(match.group(1)) if match else None


def parse_gsettings_bool(text: str) -> bool | None:
    value = text.strip().splitlines()[-1].strip() if text.strip() else ""
    return {"true": True, "false": False}.get(value)


def gnome_screen_lock(
    idle_delay: int | None, lock_enabled: bool | None, lock_delay: int | None
) -> tuple[bool | None, int | None]:
    """GNOME locks when the screen blanks after ``idle-delay`` seconds (0 = never), plus ``lock-delay``."""
    if idle_delay is None or lock_enabled is None:
        return None, None
    if not lock_enabled or idle_delay == 0:
        return False, None
    seconds = idle_delay + (lock_delay or 0)
    return True, max(1, -(-seconds // 60))


# --- the runner ---------------------------------------------------------------------------------------------


def collect(run: Runner, *, apt_logs: tuple[Path, ...] | None = None) -> Facts:
    facts = empty_facts("linux")
    sources = facts["sources"]
    facts["hostname"] = socket.gethostname()
    try:
        release = platform.freedesktop_os_release()
        facts["os_name"] = release.get("NAME", "Linux")
        facts["os_version"] = release.get("VERSION_ID", "") or release.get("VERSION", "")
    except OSError:
        facts["os_name"], facts["os_version"] = "Linux", platform.release()

    out = run(["lsblk", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINT", "-J"])
    if out and out.ok:
        try:
            facts["disk_encryption"] = parse_lsblk_root_encrypted(out.stdout)
            sources["disk_encryption"] = "lsblk"
        except ValueError:
            pass

    for args, parser in (
        (["ufw", "status"], parse_ufw_status),
        (["firewall-cmd", "--state"], parse_firewall_cmd_state),
        (["nft", "list", "ruleset"], parse_nft_ruleset),
        (["iptables", "-S"], parse_iptables_rules),
    ):
        out = run(args)
        if out is None or (not out.ok and args[0] != "firewall-cmd"):
            continue
        value = parser(out.text if args[0] == "firewall-cmd" else out.stdout)
        if value is not None:
            facts["firewall_enabled"] = value
            sources["firewall_enabled"] = " ".join(args)
            if value:
                break

    updated: dt.datetime | None = None
    for path in apt_logs if apt_logs is not None else _apt_logs():
        updated = max(filter(None, [updated, parse_apt_history(_read_log(path))]), default=None)
        if updated:
            sources["os_updated"] = "/var/log/apt/history.log"
    if updated is None:
        out = run(["dnf", "history", "list"])
        if out and out.ok:
            updated = parse_dnf_history(out.stdout)
            sources["os_updated"] = "dnf history list"
    facts["os_updated"] = iso(updated)

    out = run(["mdatp", "health"])
    if out and out.ok:
        enabled, defs = parse_mdatp_health(out.stdout)
        facts["antivirus_enabled"], facts["antivirus_definitions_updated"] = enabled, iso(defs)
        facts["antivirus_product"] = "Microsoft Defender for Endpoint"
        sources["antivirus_enabled"] = "mdatp health"
    else:
        out = run(["clamscan", "--version"])
        if out and out.ok:
            facts["antivirus_product"] = "ClamAV"
            facts["antivirus_definitions_updated"] = iso(parse_clamscan_version(out.stdout))
            daemon = run(["systemctl", "is-active", "clamav-daemon"])
            facts["antivirus_enabled"] = bool(daemon and parse_systemctl_active(daemon.stdout))
            sources["antivirus_enabled"] = "clamscan --version; systemctl is-active clamav-daemon"
        else:
            facts["antivirus_enabled"] = False
            sources["antivirus_enabled"] = "no antivirus found (mdatp, clamscan)"

    idle = run(["gsettings", "get", "org.gnome.desktop.session", "idle-delay"])
    enabled_out = run(["gsettings", "get", "org.gnome.desktop.screensaver", "lock-enabled"])
    delay = run(["gsettings", "get", "org.gnome.desktop.screensaver", "lock-delay"])
    if idle and idle.ok and enabled_out and enabled_out.ok:
        lock_on, minutes = gnome_screen_lock(
            parse_gsettings_uint(idle.stdout),
            parse_gsettings_bool(enabled_out.stdout),
            parse_gsettings_uint(delay.stdout) if delay and delay.ok else 0,
        )
        facts["screen_lock_enabled"], facts["screen_lock_minutes"] = lock_on, minutes
        sources["screen_lock_enabled"] = "gsettings org.gnome.desktop.session idle-delay"
    return facts


def _apt_logs() -> tuple[Path, ...]:
    base = Path("/var/log/apt")
    return tuple(p for p in (base / "history.log", base / "history.log.1.gz") if p.exists())


def _read_log(path: Path) -> str:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
                return fh.read()
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
