"""Device binding: only approved PCs whose security measures work may touch the information.

``require_device`` is what the vault (and transfers) call before reading or writing anything. It enforces

- R2.7ア: the request comes from an enrolled device the information manager approved, and whose approval
  has not expired, been revoked or ended by loss; and
- R2.7イ: the device's newest posture report passes the contract's posture policy and is recent enough.

How a request shows its device:

- API clients sign the request with the device key (headers of ``sekisho.agent.signing``), checked here;
- a browser session is bound to a device by the one-time link ``sekisho agent open`` asks for; the session
  keeps the device id per contract, and dies with the session (logout clears it).

Either way the device is looked up and checked **on every call**, so revoking a device, its approval
expiring or a failing report takes effect at once for sessions bound earlier.

``require_transfer_medium`` enforces R2.7エ for the media named in a transfer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.core import policy as core_policy
from sekisho.core.errors import Forbidden, NotFound
from sekisho.core.models import Contract

from . import signing
from .models import Device, Medium, PosturePolicy
from .posture import Failure, PolicyValues, evaluate, staleness
from .selectors import policy_values

SESSION_KEY = "sekisho_device_bindings"


@dataclass(frozen=True)
class DeviceBinding:
    """A device a caller has already proved (e.g. a background task carrying it from a checked request)."""

    device_uid: str
    source: str = "binding"


class DeviceRefused(Forbidden):
    default_code = "device_refused"

    def __init__(
        self, message: object, *, clause: str, failures: list[Failure] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, clause=clause, code=code)
        self.failures = failures or []


def session_bindings(request: HttpRequest) -> dict[str, str]:
    session = getattr(request, "session", None)
    if session is None:
        return {}
    value = session.get(SESSION_KEY)
    return dict(value) if isinstance(value, dict) else {}


def bound_device_uid(request_or_binding: Any, contract: Contract) -> str | None:
    if isinstance(request_or_binding, DeviceBinding):
        return request_or_binding.device_uid
    if isinstance(request_or_binding, HttpRequest):
        if signing.has_signature(request_or_binding):
            return str(signing.verify_device_request(request_or_binding).uid)
        return session_bindings(request_or_binding).get(str(contract.pk))
    return None


def approval_problem(device: Device, now: dt.datetime | None = None) -> DeviceRefused | None:
    """Why this device is not an approved device right now (R2.7ア), or None."""
    now = now or timezone.now()
    name = device.name
    if device.status == Device.Status.REGISTERED:
        message = _("端末「{name}」は情報管理責任者の承認を受けていません。").format(name=name)
    elif device.status == Device.Status.REVOKED:
        message = _("端末「{name}」の承認は取り消されています。").format(name=name)
    elif device.status == Device.Status.LOST:
        message = _("端末「{name}」は紛失・盗難の届出がされています。").format(name=name)
    elif device.is_expired(now):
        message = _(
            "端末「{name}」の承認期限が切れています。情報管理責任者に再承認を依頼してください。"
        ).format(name=name)
    elif not device.is_enrolled:
        message = _("端末「{name}」はまだエージェントで登録（鍵の登録）されていません。").format(name=name)
    else:
        return None
    return DeviceRefused(message, clause="R2.7ア")


def ownership_problem(device: Device, user: Any) -> DeviceRefused | None:
    """Why *user* may not work from this device (R2.7ア): it was approved for its registered user, no one
    else. None when the user is that person."""
    if device.owner_id == getattr(user, "pk", None):
        return None
    return DeviceRefused(
        _(
            "端末「{name}」は他の利用者の端末として承認されています。自分の端末として登録・承認された端末から"
            "利用してください。"
        ).format(name=device.name),
        clause="R2.7ア",
        code="device_not_yours",
    )


def posture_failures(device: Device, values: PolicyValues, now: dt.datetime | None = None) -> list[Failure]:
    """The controls the device fails right now (R2.7イ): its newest report re-measured against the current
    policy at the current time, plus the report's own age."""
    now = now or timezone.now()
    report = device.latest_report
    stale = staleness(report.received_at if report else None, values, now)
    failures = [stale] if stale else []
    if report is not None:
        failures += evaluate(report.facts, values, now)
    return failures


def posture_problem(
    device: Device, values: PolicyValues, now: dt.datetime | None = None
) -> DeviceRefused | None:
    failures = posture_failures(device, values, now)
    if not failures:
        return None
    listed = "\n".join(f"・{f.message}" for f in failures)
    message = _(
        "端末「{name}」のセキュリティ対策が基準を満たしていません。修正後に再度報告してください。\n{listed}"
    )
    return DeviceRefused(message.format(name=device.name, listed=listed), clause="R2.7イ", failures=failures)


def access_problem(
    device: Device, values: PolicyValues, now: dt.datetime | None = None
) -> DeviceRefused | None:
    return approval_problem(device, now) or posture_problem(device, values, now)


def annotate_access(devices: list[Device]) -> list[Device]:
    """Attach each device's current verdict for lists: ``access``, ``access_clause``, ``access_failures``
    and ``posture_state`` ("ok", "failing", "stale", "none"). One query for the contracts' posture policies,
    whatever the number of devices."""
    contract_ids = {d.contract_id for d in devices}
    policies = {p.contract_id: p for p in PosturePolicy.objects.filter(contract_id__in=contract_ids)}
    now = timezone.now()
    for device in devices:
        values = PolicyValues.of(policies.get(device.contract_id))
        problem = approval_problem(device, now)
        posture = posture_failures(device, values, now)
        if problem is None and posture:
            problem = posture_problem(device, values, now)
        failures = [f.as_dict() for f in problem.failures] if problem else []
        if problem and not failures:
            failures = [{"control": "approval", "message": problem.message}]
        device.access = problem is None  # type: ignore[attr-defined]
        device.access_clause = problem.clause if problem else None  # type: ignore[attr-defined]
        device.access_failures = failures  # type: ignore[attr-defined]
        device.posture_failures = [f.as_dict() for f in posture]  # type: ignore[attr-defined]
        if device.latest_report is None:
            state = "none"
        elif any(f.control == "report" for f in posture):
            state = "stale"
        else:
            state = "failing" if posture else "ok"
        device.posture_state = state  # type: ignore[attr-defined]
    return devices


def require_device(request_or_binding: Any, user: Any, contract: Contract) -> Device:
    """The approved, enrolled, healthy device this request comes from, or a refusal naming the clause.
    A request (signed, or of a bound session) must also be the device's own user's (R2.7ア); a
    ``DeviceBinding`` was checked so when the request that carries it was.

    Call it after the ordinary ``policy.require`` for the action; it adds the device condition on top."""
    if core_policy.role_in(user, contract) is None:
        raise NotFound(_("見つかりません。"))
    uid = bound_device_uid(request_or_binding, contract)
    device = None
    if uid:
        try:
            device = (
                Device.objects.select_related("latest_report")
                .filter(uid=uuid.UUID(str(uid)), contract=contract)
                .first()
            )
        except ValueError:
            device = None
    if device is None:
        raise DeviceRefused(
            _(
                "承認された端末からのアクセスであることを確認できません。"
                "承認済みの端末で `sekisho agent open` を実行し、表示されたリンクから開いてください。"
            ),
            clause="R2.7ア",
        )
    problem = access_problem(device, policy_values(contract))
    if problem is None and isinstance(request_or_binding, HttpRequest):
        # The person of the request must be the device's own user: a session bound, or a key that signs,
        # on someone else's PC is refused (bind_session refuses it already; this holds for any path).
        problem = ownership_problem(device, user)
    if problem is not None:
        raise problem
    return device


def require_transfer_medium(user: Any, medium: Medium | int, contract: Contract) -> Medium:
    """The medium a transfer names, if it may carry the contract's information (R2.7エ): approved by the
    information manager and with a security function (encryption)."""
    pk = medium.pk if isinstance(medium, Medium) else medium
    found = core_policy.get_visible(user, Medium, pk=pk, contract=contract)
    if not found.has_security_function:
        raise Forbidden(
            _("記録媒体「{label}」にはセキュリティ機能（暗号化）がないため、持ち出しに使えません。").format(
                label=found.label
            ),
            code="medium_refused",
            clause="R2.7エ",
        )
    if found.status != Medium.Status.APPROVED:
        raise Forbidden(
            _(
                "記録媒体「{label}」は情報管理責任者の承認を受けていないため、持ち出しに使えません（{status}）。"
            ).format(label=found.label, status=found.get_status_display()),
            code="medium_refused",
            clause="R2.7エ",
        )
    return found
