"""Rules over people: training before access (R2.4.1 / P3), leavers' continuing obligations (R2.4.2 / P3),
subcontractors held to the same rules (R2.4.3), the appointed managers and their pledge (R2.6.1 / P4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sekisho.core.models import CONTRACTOR_ROLES, Contract, Membership, Role
from sekisho.people.models import (
    APPOINTMENT_CLAUSE,
    Acknowledgement,
    Appointment,
    AppointmentKind,
    Pledge,
    ProgrammeRole,
    RosterEntry,
    Subcontract,
)
from sekisho.permits.models import PermitState

from .base import Context, Found, Rule, iso, label

ENTRY = "people.rosterentry"
MEMBERSHIP = "core.membership"


def _required_programmes(ctx: Context) -> dict[int, dict[str, Any]]:
    """Active programmes with a published version, and the roles that must acknowledge them: one query."""
    programmes: dict[int, dict[str, Any]] = {}
    for pid, title, version_id, role in ProgrammeRole.objects.filter(
        programme__contract_id=ctx.contract.pk,
        programme__active=True,
        programme__current_version__isnull=False,
    ).values_list("programme_id", "programme__title", "programme__current_version_id", "role"):
        entry = programmes.setdefault(pid, {"title": title, "version_id": version_id, "roles": set()})
        entry["roles"].add(role)
    return programmes


def _active_entries(ctx: Context, programmes: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Roster people not (yet) gone, each with their role in the contract and, per required programme, whether
    they hold a current acknowledgement of its current version: one query, one EXISTS column per programme."""
    now = ctx.now
    role = Subquery(
        Membership.objects.current()
        .filter(contract_id=ctx.contract.pk, user_id=OuterRef("user_id"))
        .values("role")[:1]
    )
    acks = {
        f"ack_{pid}": Exists(
            Acknowledgement.objects.filter(
                Q(entry_id=OuterRef("pk")) | Q(user_id=OuterRef("user_id")),
                Q(expires_at__isnull=True) | Q(expires_at__gt=now),
                contract_id=ctx.contract.pk,
                programme_id=pid,
                version_id=info["version_id"],
            )
        )
        for pid, info in programmes.items()
    }
    return list(
        RosterEntry.objects.filter(contract_id=ctx.contract.pk)
        .filter(Q(left_at__isnull=True) | Q(left_at__gt=now))
        .annotate(role=Coalesce(role, Value(Role.STAFF)), **acks)
        .order_by("pk")
        .values("pk", "name", "user_id", "organisation__name", "category", "role", *acks)
    )


def training_missing(ctx: Context) -> Iterator[Found]:
    """R2.4.1 / P3: everyone who works on the contract holds a current acknowledgement of each programme
    required for their role. Three queries; leaves the training coverage in ``ctx.stats``."""
    programmes = _required_programmes(ctx)
    entries = _active_entries(ctx, programmes)
    unrostered = list(
        Membership.objects.current()
        .filter(contract_id=ctx.contract.pk, role__in=CONTRACTOR_ROLES)
        .exclude(Exists(RosterEntry.objects.filter(contract_id=ctx.contract.pk, user_id=OuterRef("user_id"))))
        .order_by("pk")
        .values("pk", "user__username", "user__display_name", "role")
    )
    needing = len(entries) + len(unrostered)
    covered = 0
    contractor_roles = {str(r) for r in CONTRACTOR_ROLES}
    if needing and not any(info["roles"] & contractor_roles for info in programmes.values()):
        yield Found(
            clause="R2.4.1",
            severity="high",
            subject_type="core.contract",
            subject_id=str(ctx.contract.pk),
            subject_label=label(ctx.contract.number),
            message=_("社員等が受講すべき研修が設定されていません。"),
            evidence={"people": needing},
        )
    untrained_text = _("研修の受講確認が有効ではありません（未確認: {titles}）。")
    for row in entries:
        required = [pid for pid, info in programmes.items() if row["role"] in info["roles"]]
        missing = [pid for pid in required if not row[f"ack_{pid}"]]
        if not missing:
            if required or row["role"] not in contractor_roles:
                covered += 1
            continue
        yield Found(
            clause="R2.4.1",
            severity="high" if row["user_id"] else "medium",
            subject_type=ENTRY,
            subject_id=str(row["pk"]),
            subject_label=label(row["name"], row["organisation__name"]),
            message=untrained_text.format(titles="、".join(programmes[pid]["title"] for pid in missing)),
            evidence={
                "role": row["role"],
                "category": row["category"],
                "missing": [programmes[pid]["title"] for pid in missing],
                "logs_in": row["user_id"] is not None,
            },
        )
    for member in unrostered:
        yield Found(
            clause="R2.4.1",
            severity="high",
            subject_type=MEMBERSHIP,
            subject_id=str(member["pk"]),
            subject_label=label(member["user__display_name"] or member["user__username"]),
            message=_("契約のメンバーですが社員等名簿に登録されておらず、研修の記録がありません。"),
            evidence={"user": member["user__username"], "role": member["role"]},
        )
    ctx.stats["people_needing_training"] = needing
    ctx.stats["people_trained"] = covered
    ctx.stats["training_coverage"] = round(100.0 * covered / needing, 1) if needing else 100.0


def leaver_without_exit_ack(ctx: Context) -> Iterator[Found]:
    """R2.4.2 / P3: the obligations outlive the work; a leaver acknowledges them. One query."""
    rows = (
        RosterEntry.objects.filter(
            contract_id=ctx.contract.pk, left_at__lte=ctx.now, exit_ack_at__isnull=True
        )
        .order_by("pk")
        .values_list("pk", "name", "organisation__name", "left_at", "leaving_kind")
    )
    for pk, name, organisation, left_at, kind in rows:
        yield Found(
            clause="R2.4.2",
            severity="low",
            subject_type=ENTRY,
            subject_id=str(pk),
            subject_label=label(name, organisation),
            message=_("離任・退職後の守秘義務の確認が記録されていません。"),
            evidence={"left_at": iso(left_at), "leaving_kind": kind},
        )


def _subcontractor_active(ctx: Context) -> Q:
    return Q(
        Exists(
            RosterEntry.objects.filter(
                Q(left_at__isnull=True) | Q(left_at__gt=ctx.now),
                contract_id=ctx.contract.pk,
                organisation_id=OuterRef("organisation_id"),
            )
        )
    ) | Q(
        Exists(
            Membership.objects.current().filter(
                contract_id=ctx.contract.pk, organisation_id=OuterRef("organisation_id")
            )
        )
    )


def subcontract_flowdown(ctx: Context) -> Iterator[Found]:
    """R2.4.3: the subcontractor's responsible person acknowledges the flow-down of this regulation. One
    query."""
    rows = (
        Subcontract.objects.filter(contract_id=ctx.contract.pk, flowdown_at__isnull=True)
        .annotate(active=ExpressionWrapper(_subcontractor_active(ctx), output_field=BooleanField()))
        .order_by("pk")
        .values_list("pk", "organisation__name", "responsible_name", "permit__state", "active")
    )
    for pk, organisation, responsible, permit_state, active in rows:
        yield Found(
            clause="R2.4.3",
            severity="high" if active else "medium",
            subject_type="people.subcontract",
            subject_id=str(pk),
            subject_label=label(organisation),
            message=_(
                "再委託先の責任者（{name}）が取扱規定の遵守（再委託先への周知）を確認していません。"
            ).format(name=responsible),
            evidence={"responsible": responsible, "permit_state": permit_state, "people_active": active},
        )


def subcontract_permit_lapsed(ctx: Context) -> Iterator[Found]:
    """R2.4.3: a subcontractor still working on the contract needs the orderer's subcontract permit in force.
    One query."""
    today = ctx.today
    rows = (
        Subcontract.objects.filter(contract_id=ctx.contract.pk)
        .exclude(
            permit__state=PermitState.APPROVED, permit__valid_from__lte=today, permit__valid_until__gte=today
        )
        .filter(_subcontractor_active(ctx))
        .order_by("pk")
        .values_list("pk", "organisation__name", "permit_id", "permit__state", "permit__valid_until")
    )
    for pk, organisation, permit_id, state, until in rows:
        yield Found(
            clause="R2.4.3",
            severity="high",
            subject_type="people.subcontract",
            subject_id=str(pk),
            subject_label=label(organisation),
            message=_("再委託の承諾（#{permit}）が有効でないまま、再委託先の社員等が従事しています。").format(
                permit=permit_id
            ),
            evidence={"permit": permit_id, "permit_state": state, "permit_valid_until": iso(until)},
        )


def managers_and_pledge(ctx: Context) -> Iterator[Found]:
    """R2.6.1 / P4: an active contract has both managers appointed (and still on the work) and a current
    pledge naming them. Two queries, none for a contract not yet active or already closed."""
    contract = ctx.contract
    if contract.status not in (Contract.Status.ACTIVE, Contract.Status.CLOSING):
        return
    appointments = {
        a.kind: a
        for a in Appointment.objects.filter(contract_id=contract.pk, ended_at__isnull=True).select_related(
            "entry"
        )
    }
    for kind in (AppointmentKind.INFO_MANAGER, AppointmentKind.PI_MANAGER):
        appointment = appointments.get(kind)
        if appointment is None:
            message = _("{kind}が選任されていません。").format(kind=AppointmentKind(kind).label)
            evidence: dict[str, Any] = {"kind": str(kind), "problem": "not_appointed"}
        elif appointment.entry.has_left(ctx.now):
            message = _("{kind}（{name}）が離任・退職していますが、後任が選任されていません。").format(
                kind=AppointmentKind(kind).label, name=appointment.entry.name
            )
            evidence = {
                "kind": str(kind),
                "problem": "appointee_left",
                "left_at": iso(appointment.entry.left_at),
            }
        else:
            continue
        yield Found(
            clause=APPOINTMENT_CLAUSE[kind],
            severity="high",
            subject_type="people.appointment",
            subject_id=str(kind),
            subject_label=str(AppointmentKind(kind).label),
            message=message,
            evidence=evidence,
        )
    pledge = (
        Pledge.objects.filter(contract_id=contract.pk, superseded_at__isnull=True)
        .only("pk", "version", "info_manager_id", "pi_manager_id")
        .first()
    )
    info, pi = appointments.get(AppointmentKind.INFO_MANAGER), appointments.get(AppointmentKind.PI_MANAGER)
    if (
        pledge is None
        or info is None
        or pi is None
        or pledge.info_manager_id != info.pk
        or pledge.pi_manager_id != pi.pk
    ):
        yield Found(
            clause="R2.6.1",
            severity="high",
            subject_type="people.pledge",
            subject_id="current",
            subject_label=str(_("誓約書（様式1）")),
            message=_(
                "現在の情報管理責任者・個人情報保護管理責任者による誓約書（様式1）が署名されていません。"
            ),
            evidence={"pledge_version": pledge.version if pledge else None},
        )


PEOPLE_RULES = (
    Rule("training_missing", ("R2.4.1", "P3"), gettext_lazy("研修の受講確認のない社員等"), training_missing),
    Rule(
        "leaver_exit_ack",
        ("R2.4.2", "P3"),
        gettext_lazy("退職後の義務の確認のない離任者"),
        leaver_without_exit_ack,
    ),
    Rule("subcontract_flowdown", ("R2.4.3",), gettext_lazy("再委託先への周知の未確認"), subcontract_flowdown),
    Rule(
        "subcontract_permit_lapsed",
        ("R2.4.3",),
        gettext_lazy("承諾のない再委託先の従事"),
        subcontract_permit_lapsed,
    ),
    Rule(
        "managers_and_pledge",
        (),
        gettext_lazy("情報管理責任者の選任と誓約書"),
        managers_and_pledge,
        subject_clauses=("R2.6.1", "P4"),
    ),
)
