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

The gate is one query for a cleared member (two when a refusal names the programmes to take), whatever the
size of the contract; it is evaluated afresh at every request, so that every change — a leaving time that
comes, a new version, an acknowledgement that lapses, a permit decided — counts from that instant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
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


# The gate's one query, written out in SQL: it runs on every information request, and building the same
# query with the ORM (nine subqueries) cost ten times more than running it. The membership part still comes
# from the ORM (``Membership.objects.current``), so what "a current member" means stays defined in one place;
# the rest mirrors ``required_programmes`` and ``current_acknowledgements`` above, and
# tests/people/test_gate_query.py checks it answers as the ORM does, case by case.
_STATUS_SQL = """
SELECT m.organisation_id, o.kind, e.id,
    (e.left_at IS NOT NULL AND e.left_at <= %s),
    EXISTS (SELECT 1 FROM people_rosterentry r
            WHERE r.user_id = %s AND r.leaving_kind = %s AND r.left_at <= %s),
    EXISTS ({required}),
    EXISTS ({required} AND NOT EXISTS (
        SELECT 1 FROM people_acknowledgement a
        WHERE a.contract_id = %s AND a.programme_id = p.id AND a.version_id = p.current_version_id
          AND (a.expires_at IS NULL OR a.expires_at > %s)
          AND (a.user_id = %s OR EXISTS (
               SELECT 1 FROM people_rosterentry ae WHERE ae.id = a.entry_id AND ae.user_id = %s)))),
    s.id IS NOT NULL,
    (sp.state = %s AND sp.valid_from <= %s AND sp.valid_until >= %s),
    s.flowdown_at IS NOT NULL,
    (pp.state = %s AND pp.valid_from <= %s AND pp.valid_until >= %s)
FROM ({membership}) m
JOIN core_organisation o ON o.id = m.organisation_id
LEFT JOIN people_rosterentry e ON e.contract_id = %s AND e.user_id = %s
LEFT JOIN people_subcontract s ON s.contract_id = %s AND s.organisation_id = m.organisation_id
LEFT JOIN permits_permit sp ON sp.id = s.permit_id
LEFT JOIN permits_permit pp ON pp.id = s.pi_permit_id
"""
_REQUIRED_SQL = """SELECT 1 FROM people_programme p JOIN people_programmerole pr ON pr.programme_id = p.id
        WHERE p.contract_id = %s AND p.active = %s AND p.current_version_id IS NOT NULL AND pr.role = %s"""
_STATUS_KEYS = (
    *("organisation_id", "organisation__kind", "entry_id", "has_left", "retired", "any_required"),
    *("any_missing", "sub_exists", "sub_permitted", "sub_flowed_down", "pi_consent"),
)


def _status(user: Any, contract: Contract, role: str, now: dt.datetime) -> dict[str, Any] | None:
    """Everything the gate needs in one query: the membership's organisation, the roster entry, any
    retirement, whether programmes are required and unacknowledged, the subcontract's permits."""
    ops = connection.ops
    at = ops.adapt_datetimefield_value(now)
    today = ops.adapt_datefield_value(timezone.localdate(now))
    membership, membership_params = (
        Membership.objects.current(now)
        .filter(user_id=user.pk, contract_id=contract.pk)
        .values("organisation_id")[:1]
        .query.sql_with_params()
    )
    required = [contract.pk, True, role]
    sql = _STATUS_SQL.format(required=_REQUIRED_SQL, membership=membership)
    params = [
        *(at, user.pk, LeavingKind.RETIRED, at),
        *required,
        *required,
        *(contract.pk, at, user.pk, user.pk),
        *(PermitState.APPROVED, today, today, PermitState.APPROVED, today, today),
        *membership_params,
        *(contract.pk, user.pk, contract.pk),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = dict(zip(_STATUS_KEYS, row, strict=True))
    for key in _STATUS_KEYS[3:]:
        values[key] = bool(values[key])
    return values


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
    if row["has_left"]:
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


def personal_info_allowed(user: Any, contract: Contract) -> bool:
    """P8: the contractor's own people may handle personal information; a subcontractor's people only
    with the orderer's consent for that subcontract. One query (two for a subcontractor's people)."""
    membership = (
        Membership.objects.current()
        .filter(user_id=user.pk, contract_id=contract.pk)
        .values_list("organisation_id", "organisation__kind")
        .first()
    )
    if membership is None or membership[1] != Organisation.Kind.SUBCONTRACTOR:
        return True
    sub = (
        Subcontract.objects.filter(contract_id=contract.pk, organisation_id=membership[0])
        .select_related("pi_permit")
        .first()
    )
    return sub is not None and permit_in_force(sub.pi_permit)


def require_personal_info_access(user: Any, contract: Contract) -> None:
    if not personal_info_allowed(user, contract):
        raise _personal_info_refusal(contract)


def hide_unconsented_personal_info(user: Any, contract: Contract, assets: QuerySet[Any]) -> QuerySet[Any]:
    """The ledger without the assets holding personal information, for subcontractor staff without the
    orderer's consent (P8). Decided once, before the ledger's own query (which a page runs twice: count and
    rows), so it costs one small query whatever the ledger's size."""
    if personal_info_allowed(user, contract):
        return assets
    return assets.filter(has_personal_info=False)


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
