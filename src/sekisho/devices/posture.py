"""Measuring a device's reported security facts against the contract's posture policy (R2.7イ).

Pure functions over plain values: the same evaluation runs when a report arrives (to store its verdict) and
on every access (because a report ages: definitions that were 6 days old yesterday are 7 days old today).
Anything the agent could not read counts as failing — "could not confirm" is not "secure".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from .models import PosturePolicy


@dataclass(frozen=True)
class Failure:
    control: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"control": self.control, "message": self.message}


@dataclass(frozen=True)
class PolicyValues:
    require_disk_encryption: bool = True
    require_antivirus: bool = True
    max_definitions_age_days: int = 7
    max_os_update_age_days: int = 30
    require_firewall: bool = True
    max_screen_lock_minutes: int = 15
    max_report_age_hours: int = 24

    @classmethod
    def of(cls, policy: PosturePolicy | None) -> PolicyValues:
        if policy is None:
            return cls()
        return cls(**{name: getattr(policy, name) for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _when(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _age_days(value: Any, now: dt.datetime) -> int | None:
    when = _when(value)
    return None if when is None else max(0, (now - when).days)


def evaluate(facts: dict[str, Any], policy: PolicyValues, now: dt.datetime) -> list[Failure]:
    """The controls this report fails, each with a Japanese message for the user. Empty means it passes."""
    failures: list[Failure] = []
    if policy.require_disk_encryption:
        value = facts.get("disk_encryption")
        if value is None:
            failures.append(Failure("disk_encryption", _("ディスク暗号化の状態を確認できません。")))
        elif not value:
            failures.append(Failure("disk_encryption", _("ディスク暗号化が有効になっていません。")))
    if policy.require_antivirus:
        value = facts.get("antivirus_enabled")
        if value is None:
            failures.append(Failure("antivirus", _("ウイルス対策ソフト（EDR）の状態を確認できません。")))
        elif not value:
            failures.append(Failure("antivirus", _("ウイルス対策ソフト（EDR）が有効になっていません。")))
        age = _age_days(facts.get("antivirus_definitions_updated"), now)
        if age is None:
            failures.append(
                Failure("antivirus_definitions", _("ウイルス定義ファイルの更新日を確認できません。"))
            )
        elif age > policy.max_definitions_age_days:
            failures.append(
                Failure(
                    "antivirus_definitions",
                    _("ウイルス定義ファイルが{age}日前のものです（{limit}日以内が必要です）。").format(
                        age=age, limit=policy.max_definitions_age_days
                    ),
                )
            )
    age = _age_days(facts.get("os_updated"), now)
    if age is None:
        failures.append(Failure("os_updates", _("OSの更新状況を確認できません。")))
    elif age > policy.max_os_update_age_days:
        failures.append(
            Failure(
                "os_updates",
                _("OSの更新が{age}日間適用されていません（{limit}日以内が必要です）。").format(
                    age=age, limit=policy.max_os_update_age_days
                ),
            )
        )
    if policy.require_firewall:
        value = facts.get("firewall_enabled")
        if value is None:
            failures.append(Failure("firewall", _("ファイアウォールの状態を確認できません。")))
        elif not value:
            failures.append(Failure("firewall", _("ファイアウォールが有効になっていません。")))
    enabled, minutes = facts.get("screen_lock_enabled"), facts.get("screen_lock_minutes")
    if enabled is None:
        failures.append(Failure("screen_lock", _("画面ロックの設定を確認できません。")))
    elif not enabled or minutes is None:
        failures.append(Failure("screen_lock", _("一定時間操作しないときの画面ロックが設定されていません。")))
    elif minutes > policy.max_screen_lock_minutes:
        failures.append(
            Failure(
                "screen_lock",
                _("画面ロックまでの時間が{minutes}分です（{limit}分以内が必要です）。").format(
                    minutes=minutes, limit=policy.max_screen_lock_minutes
                ),
            )
        )
    return failures


def staleness(received_at: dt.datetime | None, policy: PolicyValues, now: dt.datetime) -> Failure | None:
    """A failure when there is no report, or the newest one is older than the policy allows."""
    if received_at is None:
        return Failure(
            "report",
            _("セキュリティ状態の報告がありません。端末で `sekisho agent report` を実行してください。"),
        )
    hours = int((now - received_at).total_seconds() // 3600)
    if now - received_at > dt.timedelta(hours=policy.max_report_age_hours):
        return Failure(
            "report",
            _(
                "最新のセキュリティ状態の報告が{hours}時間前のものです（{limit}時間以内が必要です）。"
                "端末で `sekisho agent report` を実行してください。"
            ).format(hours=hours, limit=policy.max_report_age_hours),
        )
    return None
