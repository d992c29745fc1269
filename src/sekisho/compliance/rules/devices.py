"""Rules over devices: an approval that has expired while the device is still registered as approved and
reporting (R2.7ア), a device whose security measures fail the contract's posture policy (R2.7イ, R2.6.2ア)."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sekisho.devices.models import Device
from sekisho.devices.policy import posture_failures
from sekisho.devices.posture import PolicyValues
from sekisho.devices.selectors import policy_values

from .base import Context, Found, Rule, iso, jdate, label

DEVICE = "devices.device"


def _devices_in_use(ctx: Context) -> list[Device]:
    """Devices still approved (neither revoked nor reported lost), with their newest report: one query,
    memoised in the context because both device rules read it."""
    cached = ctx.stats.get("_devices")
    if cached is None:
        cached = list(
            Device.objects.filter(contract_id=ctx.contract.pk, status=Device.Status.APPROVED)
            .select_related("latest_report", "owner")
            .only(
                *("pk", "uid", "name", "asset_tag", "status", "approved_until", "contract_id", "public_key"),
                *("owner__username", "owner__display_name"),
                *("latest_report__received_at", "latest_report__facts", "latest_report__passed"),
            )
            .order_by("pk")
        )
        ctx.stats["_devices"] = cached
    return cached


def approval_expired(ctx: Context) -> Iterator[Found]:
    for device in _devices_in_use(ctx):
        if not device.is_expired(ctx.now):
            continue
        report = device.latest_report
        last_report = report.received_at if report is not None else None
        # Reports after the expiry show the PC is still in use without a current approval.
        in_use = last_report is not None and (
            device.approved_until is None or last_report > device.approved_until
        )
        yield Found(
            clause="R2.7ア",
            severity="high" if in_use else "medium",
            subject_type=DEVICE,
            subject_id=str(device.pk),
            subject_label=label(device.name, device.asset_tag),
            message=(
                _("承認期限（{until}）が切れた後も使用されています。情報管理責任者の再承認が必要です。")
                if in_use
                else _("承認期限（{until}）が切れています。再承認するか承認を取り消してください。")
            ).format(until=jdate(device.approved_until)),
            evidence={
                "uid": str(device.uid),
                "owner": device.owner.get_username(),
                "approved_until": iso(device.approved_until),
                "last_report_at": iso(last_report),
            },
        )


def posture_failing(ctx: Context) -> Iterator[Found]:
    values: PolicyValues = policy_values(ctx.contract)
    for device in _devices_in_use(ctx):
        if device.is_expired(ctx.now):
            continue  # already a finding of its own (R2.7ア); posture is re-checked on re-approval
        failures = posture_failures(device, values, ctx.now)
        if not failures:
            continue
        controls = sorted({f.control for f in failures})
        only_report = controls == ["report"]
        yield Found(
            clause="R2.7イ",
            severity="low" if only_report else "high",
            subject_type=DEVICE,
            subject_id=str(device.pk),
            subject_label=label(device.name, device.asset_tag),
            message=(
                _("セキュリティ状態の報告がない、又は古くなっています。")
                if only_report
                else _("セキュリティ対策が基準を満たしていません（{controls}）。").format(
                    controls=", ".join(controls)
                )
            ),
            evidence={
                "uid": str(device.uid),
                "owner": device.owner.get_username(),
                "failing": controls,
                "last_report_at": iso(device.latest_report.received_at if device.latest_report else None),
            },
        )


DEVICE_RULES = (
    Rule(
        "device_approval_expired",
        ("R2.7ア", "R2.6.2ア"),
        gettext_lazy("承認期限切れの端末の使用"),
        approval_expired,
    ),
    Rule(
        "device_posture_failing",
        ("R2.7イ", "R2.6.2ア"),
        gettext_lazy("セキュリティ対策が基準を満たさない端末"),
        posture_failing,
    ),
)
