"""The collectors parse recorded outputs of the real Windows, macOS and Linux commands
(tests/devices/data/, see its README)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

from sekisho.agent.collectors import linux, macos, windows
from sekisho.agent.collectors.common import Output

DATA = Path(__file__).resolve().parents[1] / "devices" / "data"


def rec(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args).astimezone()  # type: ignore[arg-type]


class FakeRunner:
    """Answers commands from recordings; anything not listed is "not installed"."""

    def __init__(self, answers: dict[str, Output]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, args: Sequence[str]) -> Output | None:
        key = " ".join(args)
        self.calls.append(key)
        for prefix, output in self.answers.items():
            if key.startswith(prefix) or prefix in key:
                return output
        return None


# --- Linux --------------------------------------------------------------------------------------------------


def test_lsblk_root_inside_luks_and_lvm_is_encrypted():
    assert linux.parse_lsblk_root_encrypted(rec("linux/lsblk_luks_lvm.json")) is True


def test_lsblk_root_on_a_plain_partition_is_not_encrypted():
    assert linux.parse_lsblk_root_encrypted(rec("linux/lsblk_plain.json")) is False


def test_lsblk_mountpoints_array_of_newer_util_linux_is_understood():
    text = '{"blockdevices":[{"name":"vda","type":"disk","fstype":null,"mountpoints":["/"]}]}'
    assert linux.parse_lsblk_root_encrypted(text) is False


def test_lsblk_without_a_root_mount_is_unknown():
    assert linux.parse_lsblk_root_encrypted('{"blockdevices": []}') is None


@pytest.mark.parametrize(
    ("name", "parser", "expected"),
    [
        ("linux/ufw_status_active.txt", linux.parse_ufw_status, True),
        ("linux/ufw_status_inactive.txt", linux.parse_ufw_status, False),
        ("linux/firewall_cmd_state_running.txt", linux.parse_firewall_cmd_state, True),
        ("linux/nft_list_ruleset_drop.txt", linux.parse_nft_ruleset, True),
        ("linux/nft_list_ruleset_accept.txt", linux.parse_nft_ruleset, False),
    ],
)
def test_linux_firewall_outputs(name, parser, expected):
    assert parser(rec(name)) is expected


def test_firewall_cmd_not_running_and_iptables_rules():
    assert linux.parse_firewall_cmd_state("not running\n") is False
    assert linux.parse_iptables_rules("-P INPUT DROP\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n") is True
    assert linux.parse_iptables_rules("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n") is False


def test_apt_history_gives_the_last_run_that_upgraded_packages():
    # The 11-20 run only installed a package; the 11-18 unattended upgrade is the last update.
    assert linux.parse_apt_history(rec("linux/apt_history.log")) == local(2026, 11, 18, 9, 14, 9)


def test_dnf_history_gives_the_newest_upgrade_transaction():
    assert linux.parse_dnf_history(rec("linux/dnf_history_list.txt")) == local(2026, 11, 18, 9, 14)


def test_clamscan_version_carries_the_signature_date():
    assert linux.parse_clamscan_version(rec("linux/clamscan_version.txt")) == local(2026, 11, 22, 8, 26, 2)


def test_mdatp_health_gives_protection_and_definition_age():
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    enabled, updated = linux.parse_mdatp_health(rec("linux/mdatp_health.txt"), now=now)
    assert enabled is True
    assert updated == now - dt.timedelta(minutes=623)


def test_gnome_screen_lock_from_gsettings():
    idle = linux.parse_gsettings_uint(rec("linux/gsettings_idle_delay.txt"))
    enabled = linux.parse_gsettings_bool(rec("linux/gsettings_lock_enabled.txt"))
    delay = linux.parse_gsettings_uint(rec("linux/gsettings_lock_delay.txt"))
    assert (idle, enabled, delay) == (300, True, 0)
    assert linux.gnome_screen_lock(idle, enabled, delay) == (True, 5)
    assert linux.gnome_screen_lock(0, True, 0) == (False, None)  # "never" blank the screen
    assert linux.gnome_screen_lock(300, False, 0) == (False, None)


def test_linux_collect_with_recordings(tmp_path):
    log = tmp_path / "history.log"
    log.write_text(rec("linux/apt_history.log"), encoding="utf-8")
    run = FakeRunner(
        {
            "lsblk": Output(0, rec("linux/lsblk_luks_lvm.json")),
            "ufw status": Output(0, rec("linux/ufw_status_active.txt")),
            "clamscan --version": Output(0, rec("linux/clamscan_version.txt")),
            "systemctl is-active clamav-daemon": Output(
                0, rec("linux/systemctl_is_active_clamav_daemon.txt")
            ),
            "idle-delay": Output(0, rec("linux/gsettings_idle_delay.txt")),
            "lock-enabled": Output(0, rec("linux/gsettings_lock_enabled.txt")),
            "lock-delay": Output(0, rec("linux/gsettings_lock_delay.txt")),
        }
    )
    facts = linux.collect(run, apt_logs=(log,))
    assert facts["platform"] == "linux"
    assert facts["disk_encryption"] is True
    assert facts["firewall_enabled"] is True
    assert facts["antivirus_enabled"] is True
    assert facts["antivirus_product"] == "ClamAV"
    assert (
        facts["antivirus_definitions_updated"] == local(2026, 11, 22, 8, 26, 2).astimezone(dt.UTC).isoformat()
    )
    assert facts["os_updated"] == local(2026, 11, 18, 9, 14, 9).astimezone(dt.UTC).isoformat()
    assert (facts["screen_lock_enabled"], facts["screen_lock_minutes"]) == (True, 5)


def test_linux_collect_on_a_bare_machine_reports_what_it_cannot_tell():
    facts = linux.collect(FakeRunner({}), apt_logs=())
    assert facts["disk_encryption"] is None
    assert facts["firewall_enabled"] is None
    assert facts["antivirus_enabled"] is False
    assert facts["os_updated"] is None
    assert facts["screen_lock_enabled"] is None


# --- Windows ------------------------------------------------------------------------------------------------


def test_bitlocker_from_powershell_json_and_from_manage_bde_in_both_languages():
    assert windows.parse_bitlocker_volume(rec("windows/get_bitlockervolume.json")) is True
    assert windows.parse_manage_bde(rec("windows/manage_bde_status_en.txt")) is True
    assert windows.parse_manage_bde(rec("windows/manage_bde_status_ja_off.txt")) is False
    assert windows.parse_bitlocker_shell_property(rec("windows/bitlocker_shell_property.txt")) is True
    assert windows.parse_bitlocker_shell_property("2\r\n") is False


def test_defender_status_of_windows_powershell_51_with_ms_dates():
    enabled, updated = windows.parse_defender(rec("windows/get_mpcomputerstatus_ps51.json"))
    assert enabled is True
    assert updated == dt.datetime(2026, 11, 24, 21, 3, 11, tzinfo=dt.UTC)


def test_defender_with_real_time_protection_off_is_not_enabled():
    enabled, updated = windows.parse_defender(rec("windows/get_mpcomputerstatus_ps7_rtp_off.json"))
    assert enabled is False
    assert updated == dt.datetime(2026, 11, 1, 21, 15, 40, tzinfo=dt.UTC)


def test_security_center_finds_the_active_third_party_antivirus():
    on, fresh, name = windows.parse_security_center(rec("windows/securitycenter2_antivirusproduct.json"))
    assert (on, fresh, name) == (True, True, "ESET Security")


def test_windows_firewall_profiles():
    assert windows.parse_firewall_profiles(rec("windows/get_netfirewallprofile.json")) is True
    assert (
        windows.parse_netsh_firewall(rec("windows/netsh_advfirewall_allprofiles_en.txt")) is False
    )  # Public OFF
    assert windows.parse_netsh_firewall(rec("windows/netsh_advfirewall_allprofiles_ja.txt")) is True


def test_newest_hotfix_date():
    assert windows.parse_hotfixes(rec("windows/get_hotfix.json")) == local(2026, 11, 13, 0, 0)


def test_windows_screen_lock_prefers_the_inactivity_policy():
    inactivity = windows.parse_reg_values(rec("windows/reg_query_inactivitytimeoutsecs.txt"))
    desktop = windows.parse_reg_values(rec("windows/reg_query_control_panel_desktop.txt"))
    assert inactivity == {"InactivityTimeoutSecs": "900"}
    assert desktop["ScreenSaveTimeOut"] == "1200"
    assert windows.screen_lock_from_registry(inactivity, desktop) == (True, 15)
    assert windows.screen_lock_from_registry({}, desktop) == (True, 20)
    assert windows.screen_lock_from_registry({}, {**desktop, "ScreenSaverIsSecure": "0"}) == (False, None)


def test_windows_collect_with_recordings():
    run = FakeRunner(
        {
            "Get-BitLockerVolume": Output(0, rec("windows/get_bitlockervolume.json")),
            "Get-MpComputerStatus": Output(0, rec("windows/get_mpcomputerstatus_ps51.json")),
            "Get-NetFirewallProfile": Output(0, rec("windows/get_netfirewallprofile.json")),
            "Get-HotFix": Output(0, rec("windows/get_hotfix.json")),
            "InactivityTimeoutSecs": Output(0, rec("windows/reg_query_inactivitytimeoutsecs.txt")),
            "Control Panel": Output(0, rec("windows/reg_query_control_panel_desktop.txt")),
        }
    )
    facts = windows.collect(run)
    assert facts["platform"] == "windows"
    assert facts["disk_encryption"] is True
    assert facts["antivirus_enabled"] is True
    assert facts["antivirus_definitions_updated"] == "2026-11-24T21:03:11+00:00"
    assert facts["firewall_enabled"] is True
    assert facts["screen_lock_minutes"] == 15


def test_windows_collect_falls_back_to_manage_bde_and_security_center():
    run = FakeRunner(
        {
            "manage-bde": Output(0, rec("windows/manage_bde_status_ja_off.txt")),
            "SecurityCenter2": Output(0, rec("windows/securitycenter2_antivirusproduct.json")),
            "netsh": Output(0, rec("windows/netsh_advfirewall_allprofiles_ja.txt")),
        }
    )
    now = dt.datetime(2026, 11, 25, 1, 0, tzinfo=dt.UTC)
    facts = windows.collect(run, now=now)
    assert facts["disk_encryption"] is False
    assert (facts["antivirus_enabled"], facts["antivirus_product"]) == (True, "ESET Security")
    assert facts["antivirus_definitions_updated"] == now.isoformat()
    assert facts["firewall_enabled"] is True


# --- macOS --------------------------------------------------------------------------------------------------


def test_filevault_states():
    assert macos.parse_fdesetup(rec("macos/fdesetup_status_on.txt")) is True
    assert macos.parse_fdesetup(rec("macos/fdesetup_status_off.txt")) is False
    assert macos.parse_fdesetup(rec("macos/fdesetup_status_encrypting.txt")) is False


def test_application_firewall_states():
    assert macos.parse_socketfilterfw(rec("macos/socketfilterfw_getglobalstate_enabled.txt")) is True
    assert macos.parse_socketfilterfw(rec("macos/socketfilterfw_getglobalstate_disabled.txt")) is False


def test_softwareupdate_history_separates_os_updates_from_xprotect_definitions():
    updated, definitions = macos.parse_softwareupdate_history(rec("macos/softwareupdate_history.txt"))
    assert updated == local(2026, 11, 20, 9, 12, 44)
    assert definitions == local(2026, 11, 22, 3, 10, 41)


def test_macos_screen_lock_is_the_earlier_of_screensaver_and_display_sleep_plus_delay():
    lock = macos.parse_sysadminctl_screenlock(rec("macos/sysadminctl_screenlock_status.txt"))
    assert lock == (True, 5)
    idle = macos.parse_idle_time(rec("macos/defaults_screensaver_idletime.txt"))
    sleep = macos.parse_pmset_displaysleep(rec("macos/pmset_g.txt"))
    assert (idle, sleep) == (300, 10)
    assert macos.screen_lock(lock, idle, sleep) == (True, 6)
    off = macos.parse_sysadminctl_screenlock(rec("macos/sysadminctl_screenlock_off.txt"))
    assert macos.screen_lock(off, idle, sleep) == (False, None)


def test_macos_collect_with_recordings():
    run = FakeRunner(
        {
            "sw_vers": Output(0, rec("macos/sw_vers.txt")),
            "fdesetup": Output(0, rec("macos/fdesetup_status_on.txt")),
            "socketfilterfw": Output(0, rec("macos/socketfilterfw_getglobalstate_enabled.txt")),
            "softwareupdate": Output(0, rec("macos/softwareupdate_history.txt")),
            "spctl": Output(0, rec("macos/spctl_status.txt")),
            "sysadminctl": Output(0, "", rec("macos/sysadminctl_screenlock_status.txt")),
            "idleTime": Output(0, rec("macos/defaults_screensaver_idletime.txt")),
            "pmset": Output(0, rec("macos/pmset_g.txt")),
        }
    )
    facts = macos.collect(run)
    assert (facts["os_name"], facts["os_version"]) == ("macOS", "15.1.1")
    assert facts["disk_encryption"] is True
    assert facts["firewall_enabled"] is True
    assert facts["antivirus_enabled"] is True
    assert (
        facts["antivirus_definitions_updated"]
        == local(2026, 11, 22, 3, 10, 41).astimezone(dt.UTC).isoformat()
    )
    assert (facts["screen_lock_enabled"], facts["screen_lock_minutes"]) == (True, 6)


def test_the_agent_package_imports_no_django():
    import subprocess
    import sys

    code = (
        "import sys, sekisho.agent.cli, sekisho.agent.collectors.linux, sekisho.agent.collectors.windows, "
        "sekisho.agent.collectors.macos; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'ninja', 'pydantic')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
