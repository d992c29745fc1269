"""The people gates: who may reach a contract's information, and whether the contract may start.

``sekisho.core.policy.require`` calls ``require_cleared`` for every action in ``policy.INFORMATION_ACTIONS``
(after the role check), so the ledger, the vault and transfers get the same rule from one place:

- R2.4.2 / P2 / P3: a person whose leaving time has come is gone at that instant, whether or not the tick
  has carried out the revocations yet;
- R2.4.3: subcontractor staff only once the orderer's subcontract permit is in force and the subcontractor's
  responsible person has acknowledged the flow-down;
- R2.4.1 / P3: contractor-side members must be on the roster and hold a current acknowledgement of every
  programme required for their role (other roles only when a programme names them);
- P8: personal information only for subcontractor staff whose subcontract has the orderer's own consent.

Each check costs a fixed number of queries (at most five), whatever the size of the contract.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.core.errors import Conflict, Forbidden
from sekisho.core.models import CONTRACTOR_ROLES, Contract, Membership, Organisation
from sekisho.permits.models import Permit, PermitState

from .models import (
    APPOINTMENT_CLAUSE,
    Acknowledgement,
    Appointment,
    AppointmentKind,
    LeavingKind,
    Pledge,
    Programme,
    RosterEntry,
    Subcontract,
)

TRAINING_REQUIRED = "training_required"


class NotCleared(Forbidden):
    """A member who may not reach the contract's information yet (or any more). Carries the contract, so a
    browser can be sent to the contract's training page (see core.middleware.RefusalPageMiddleware)."""

    def __init__(self, message: Any, *, code: str, clause: str, contract_id: int) -> None:
        super().__init__(message, code=code, clause=clause)
        self.contract_id = contract_id


@dataclass(frozen=True)
class ProgrammeNeed:
    id: int
    title: str
    current_version_id: int


@dataclass
class Clearance:
    """What stands between a member and the contract's information; ``refusal`` is None when nothing does."""

    contract_id: int
    role: str
    entry_id: int | None = None
    subcontractor: bool = False
    personal_info: bool = True
    required: list[ProgrammeNeed] = field(default_factory=list)
    missing: list[ProgrammeNeed] = field(default_factory=list)
    refusal: NotCleared | None = None

    @property
    def cleared(self) -> bool:
        return self.refusal is None

    def refuse(self, message: str, *, code: str, clause: str) -> Clearance:
        self.refusal = NotCleared(message, code=code, clause=clause, contract_id=self.contract_id)
        return self


def permit_in_force(permit: Permit | None, today: dt.date | None = None) -> bool:
    return permit is not None and permit.in_force_on(today or timezone.localdate())


def _in_force(prefix: str, today: dt.date) -> Q:
    return Q(
        **{
            f"{prefix}__state": PermitState.APPROVED,
            f"{prefix}__valid_from__lte": today,
            f"{prefix}__valid_until__gte": today,
        }
    )


def _subcontracts(contract: Contract) -> QuerySet[Subcontract]:
    return Subcontract.objects.filter(contract_id=contract.pk, organisation_id=OuterRef("organisation_id"))


def _pi_consent(contract: Contract, today: dt.date) -> Exists:
    return Exists(_subcontracts(contract).filter(_in_force("pi_permit", today)))


def required_programmes(contract: Contract, role: str) -> QuerySet[Programme]:
    return Programme.objects.filter(
        contract_id=contract.pk, active=True, current_version__isnull=False, roles__role=role
    )


def current_acknowledgements(user: Any, contract: Contract, now: dt.datetime) -> QuerySet[Acknowledgement]:
    """The user's unexpired acknowledgements of the current version of the programme in OuterRef("pk")."""
    return Acknowledgement.objects.filter(
        Q(user_id=user.pk) | Q(entry__user_id=user.pk),
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        contract_id=contract.pk,
        programme_id=OuterRef("pk"),
        version_id=OuterRef("current_version_id"),
    )


def _status(user: Any, contract: Contract, role: str, now: dt.datetime) -> dict[str, Any] | None:
    """Everything the gate needs in one query: the membership's organisation, the roster entry, any
    retirement, whether programmes are required and unacknowledged, the subcontract's permits."""
    today = timezone.localdate()
    entry = RosterEntry.objects.filter(contract_id=contract.pk, user_id=user.pk)
    required = required_programmes(contract, role)
    subs = _subcontracts(contract)
    return (
        Membership.objects.current()
        .filter(user_id=user.pk, contract_id=contract.pk)
        .annotate(
            entry_id=Subquery(entry.values("pk")[:1]),
            entry_left_at=Subquery(entry.values("left_at")[:1]),
            retired=Exists(
                RosterEntry.objects.filter(
                    user_id=user.pk, leaving_kind=LeavingKind.RETIRED, left_at__lte=now
                )
            ),
            any_required=Exists(required),
            any_missing=Exists(required.exclude(Exists(current_acknowledgements(user, contract, now)))),
            sub_exists=Exists(subs),
            sub_permitted=Exists(subs.filter(_in_force("permit", today))),
            sub_flowed_down=Exists(subs.filter(flowdown_at__isnull=False)),
            pi_consent=_pi_consent(contract, today),
        )
        .values(
            "organisation_id",
            "organisation__kind",
            *("entry_id", "entry_left_at", "retired", "any_required", "any_missing"),
            *("sub_exists", "sub_permitted", "sub_flowed_down", "pi_consent"),
        )
        .first()
    )


def _programme_needs(
    user: Any, contract: Contract, role: str, now: dt.datetime
) -> list[tuple[ProgrammeNeed, bool]]:
    rows = (
        required_programmes(contract, role)
        .annotate(acknowledged=Exists(current_acknowledgements(user, contract, now)))
        .order_by("id")
        .values_list("id", "title", "current_version_id", "acknowledged")
    )
    return [
        (ProgrammeNeed(pk, title, version_id), acknowledged) for pk, title, version_id, acknowledged in rows
    ]


def clearance(
    user: Any, contract: Contract, role: str, *, now: dt.datetime | None = None, detail: bool = True
) -> Clearance:
    """Everything the gate checks for *user* (holding *role*) in *contract*, with the first refusal.

    One query when the member is cleared and *detail* is off (the gate's path); the programmes' titles cost
    one more, when asked for or when a refusal names them."""
    now = now or timezone.now()
    result = Clearance(contract_id=contract.pk, role=role)
    row = _status(user, contract, role, now)
    if row is None:
        return result.refuse(_("この契約のメンバーではありません。"), code="not_member", clause="R2.4.1")
    result.entry_id = row["entry_id"]
    result.subcontractor = row["organisation__kind"] == Organisation.Kind.SUBCONTRACTOR
    result.personal_info = not result.subcontractor or row["pi_consent"]
    if detail or row["any_missing"]:
        needs = _programme_needs(user, contract, role, now)
        result.required = [need for need, _ack in needs]
        result.missing = [need for need, acknowledged in needs if not acknowledged]
    contractor_side = role in CONTRACTOR_ROLES
    if not contractor_side and not row["any_required"]:
        return result
    left_at = row["entry_left_at"]
    if left_at is not None and left_at <= now:
        return result.refuse(
            _("本業務から離任（退職）しているため、行政情報には接することができません。"),
            code="left",
            clause="R2.4.2",
        )
    if row["retired"]:
        return result.refuse(
            _("退職の記録があるため、行政情報には接することができません。"), code="left", clause="R2.4.2"
        )
    if contractor_side and result.subcontractor:
        if not row["sub_permitted"]:
            return result.refuse(
                _subcontract_message(contract, row), code="subcontract_not_permitted", clause="R2.4.3"
            )
        if not row["sub_flowed_down"]:
            return result.refuse(
                _("再委託先の責任者が取扱規定の遵守（再委託先への周知）を確認していません。"),
                code="flowdown_required",
                clause="R2.4.3",
            )
    if contractor_side and result.entry_id is None:
        return result.refuse(
            _("社員等名簿に登録されていません。情報管理責任者に登録を依頼し、研修を受講してください。"),
            code=TRAINING_REQUIRED,
            clause="R2.4.1",
        )
    if contractor_side and not row["any_required"]:
        return result.refuse(
            _(
                "この契約には受講すべき研修が設定されていません。情報管理責任者に研修の設定を依頼してください。"
            ),
            code=TRAINING_REQUIRED,
            clause="R2.4.1",
        )
    if row["any_missing"]:
        result.refuse(
            _("行政情報に接する前に、研修を受講して内容を確認してください（未確認: {titles}）。").format(
                titles="、".join(p.title for p in result.missing)
            ),
            code=TRAINING_REQUIRED,
            clause="R2.4.1",
        )
    return result


def _subcontract_message(contract: Contract, row: dict[str, Any]) -> str:
    if not row["sub_exists"]:
        return _("所属する再委託先・下請負者について、発注者の再委託の承諾がありません。")
    sub = Subcontract.objects.select_related("permit").get(
        contract_id=contract.pk, organisation_id=row["organisation_id"]
    )
    return _("再委託の承諾が有効ではありません（状態: {state}）。発注者の承諾後に利用できます。").format(
        state=PermitState(sub.permit.state).label
    )


def require_cleared(user: Any, contract: Contract, role: str, action: str, obj: Any = None) -> None:
    """Refuse an information action (policy.INFORMATION_ACTIONS) to a member who is not cleared; for an
    asset holding personal information, also to subcontractor staff without the orderer's consent (P8).
    One query when the member is cleared."""
    status = clearance(user, contract, role, detail=False)
    if status.refusal is not None:
        raise status.refusal
    if getattr(obj, "has_personal_info", False) and not status.personal_info:
        raise _personal_info_refusal(contract)


def _personal_info_refusal(contract: Contract) -> NotCleared:
    return NotCleared(
        _("再委託先の社員等が個人情報を取り扱うには、発注者の承諾（個人情報の取扱い）が必要です。"),
        code="personal_info_not_consented",
        clause="P8",
        contract_id=contract.pk,
    )


def _blocked_from_personal_info(user: Any, contract: Contract) -> QuerySet[Membership]:
    """The user's membership, if it is a subcontractor's without the orderer's P8 consent."""
    return (
        Membership.objects.current()
        .filter(user_id=user.pk, contract_id=contract.pk, organisation__kind=Organisation.Kind.SUBCONTRACTOR)
        .exclude(_pi_consent(contract, timezone.localdate()))
    )


def personal_info_allowed(user: Any, contract: Contract) -> bool:
    """P8: the contractor's own people may handle personal information; a subcontractor's people only
    with the orderer's consent for that subcontract. One query."""
    return not _blocked_from_personal_info(user, contract).exists()


def require_personal_info_access(user: Any, contract: Contract) -> None:
    if not personal_info_allowed(user, contract):
        raise _personal_info_refusal(contract)


def hide_unconsented_personal_info(user: Any, contract: Contract, assets: QuerySet[Any]) -> QuerySet[Any]:
    """The ledger without the assets holding personal information, for subcontractor staff without the
    orderer's consent (P8). A condition of the same query: no query of its own, whatever the ledger's size."""
    return assets.filter(Q(has_personal_info=False) | ~Exists(_blocked_from_personal_info(user, contract)))


# --- activation (R2.6.1, P4) ----------------------------------------------------------------------------


def current_appointments(contract: Contract) -> dict[str, Appointment]:
    return {
        a.kind: a
        for a in Appointment.objects.filter(contract_id=contract.pk, ended_at__isnull=True).select_related(
            "entry"
        )
    }


def current_pledge(contract: Contract) -> Pledge | None:
    return Pledge.objects.filter(contract_id=contract.pk, superseded_at__isnull=True).first()


def readiness_problems(contract: Contract) -> list[tuple[str, str, str]]:
    """(code, clause, message) for each thing missing before the contract may become active."""
    problems: list[tuple[str, str, str]] = []
    appointments = current_appointments(contract)
    for kind in (AppointmentKind.INFO_MANAGER, AppointmentKind.PI_MANAGER):
        if kind not in appointments:
            problems.append(
                (
                    "appointment_required",
                    APPOINTMENT_CLAUSE[kind],
                    _("{kind}が選任されていません。").format(kind=AppointmentKind(kind).label),
                )
            )
    pledge = current_pledge(contract)
    info, pi = appointments.get(AppointmentKind.INFO_MANAGER), appointments.get(AppointmentKind.PI_MANAGER)
    if (
        pledge is None
        or info is None
        or pi is None
        or pledge.info_manager_id != info.pk
        or pledge.pi_manager_id != pi.pk
    ):
        problems.append(
            (
                "pledge_required",
                "R2.6.1",
                _("現在の情報管理責任者・個人情報保護管理責任者による誓約書（様式1）が署名されていません。"),
            )
        )
    return problems


def require_ready_to_activate(contract: Contract) -> None:
    """R2.6.1 / P4: a contract becomes active only with both managers appointed and a signed, current
    pledge naming them."""
    problems = readiness_problems(contract)
    if problems:
        code, clause, _message = problems[0]
        raise Conflict(
            _("契約を履行中にできません。{reason}").format(reason=" ".join(p[2] for p in problems)),
            code=code,
            clause=clause,
        )
