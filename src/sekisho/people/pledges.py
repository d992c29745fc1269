"""Appointments of the information manager (R2.6.1) and the personal-information manager (P4), and the
pledge (誓約書 様式1) that reports them to the orderer.

The pledge is signed electronically: the signer types their name, the time is recorded, and the SHA-256 of
the pledge's content (everything printed on it, the signature included) is kept with it. Each signing is a
new version; appointing someone else as either manager supersedes the current one, and the contract cannot
become active without a current pledge naming the current managers (gates.require_ready_to_activate).

Both appointments may name the same person. The regulation asks for an information manager (R2.6.1) and
for a personal-information manager "to be determined, among the necessary measures" (P4); it does not ask
for two people, and a small contractor often has one responsible person for both. They are still two
appointments, each named on the pledge, so that either can change on its own.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Conflict, Invalid
from sekisho.core.models import Contract, Membership, Role
from sekisho.core.wareki import to_wareki

from . import texts
from .gates import current_appointments
from .models import APPOINTMENT_CLAUSE, Appointment, AppointmentKind, Pledge, RosterEntry, StaffCategory
from .services import OPEN_STATES, roster_entry_of, supersede_pledge

FORM_NAME = "様式1"


@transaction.atomic
def appoint(contract: Contract, *, acting_user: Any, kind: str, entry: RosterEntry) -> Appointment:
    """Appoint the contractor's information manager (R2.6.1) or personal-information manager (P4).

    The appointee is on the contract's roster, from the contractor itself (not a subcontractor), and has not
    left. The information manager is the person who holds the information manager's role in the contract.
    Replacing either ends the previous appointment and supersedes the signed pledge."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "appointment.manage", contract)
    if contract.status not in OPEN_STATES:
        raise Conflict(_("完了した契約では選任できません。"), code="contract_closed")
    if kind not in AppointmentKind.values:
        raise Invalid(_("選任の種別が正しくありません。"))
    clause = APPOINTMENT_CLAUSE[AppointmentKind(kind)]
    if entry.contract_id != contract.pk:
        raise Invalid(_("選任する者が名簿に見つかりません。"))
    if entry.organisation_id != contract.contractor_id:
        raise Invalid(_("責任者は受注者の社員等から選任してください。"), clause=clause)
    if entry.has_left():
        raise Invalid(_("離任（退職）した者は選任できません。"), clause=clause)
    if kind == AppointmentKind.INFO_MANAGER and not (
        entry.user_id is not None
        and Membership.objects.current()
        .filter(contract=contract, user_id=entry.user_id, role=Role.MANAGER)
        .exists()
    ):
        raise Invalid(
            _("情報管理責任者には、この契約で情報管理責任者の役割を持つ利用者を選任してください。"),
            clause=clause,
        )
    current = Appointment.objects.select_for_update().filter(
        contract=contract, kind=kind, ended_at__isnull=True
    )
    previous = current.first()
    if previous is not None and previous.entry_id == entry.pk:
        raise Conflict(_("この者は既に選任されています。"), code="duplicate")
    if previous is not None:
        previous.ended_at = timezone.now()
        previous.save(update_fields=["ended_at"])
    appointment = Appointment.objects.create(
        contract=contract, kind=kind, entry=entry, appointed_by=acting_user
    )
    record(
        actor=acting_user,
        action="people.appoint",
        contract=contract,
        obj=appointment,
        summary={
            "kind": kind,
            "name": entry.name,
            "previous": previous.entry.name if previous is not None else None,
        },
    )
    if previous is not None:
        supersede_pledge(contract, actor=acting_user, reason="manager_changed")
    return appointment


def _person(entry: RosterEntry) -> dict[str, str]:
    return {
        "name": entry.name,
        "department": entry.department,
        "position": entry.position,
        "contact": entry.contact,
    }


def pledge_content(
    contract: Contract,
    *,
    addressee: str,
    representative: str,
    seal_box: bool,
    version: int | None = None,
    signer: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything printed on the pledge, from the contract's current state. Four queries, whatever the size
    of the roster."""
    contract = Contract.objects.select_related("orderer", "contractor").get(pk=contract.pk)
    appointments = current_appointments(contract)
    info, pi = appointments.get(AppointmentKind.INFO_MANAGER), appointments.get(AppointmentKind.PI_MANAGER)
    today = timezone.localdate()
    roster = (
        RosterEntry.objects.filter(contract=contract)
        .exclude(left_at__lte=timezone.now())
        .select_related("organisation")
        .order_by("organisation__kind", "organisation__name", "id")
    )
    categories = dict(StaffCategory.choices)
    return {
        "form": FORM_NAME,
        "version": version,
        "date": today.isoformat(),
        "date_wareki": to_wareki(today),
        "addressee": addressee.strip(),
        "contractor": {
            "name": contract.contractor.name,
            "address": contract.contractor.address,
            "representative": representative.strip(),
        },
        "seal_box": seal_box,
        "contract": {
            "number": contract.number,
            "title": contract.title,
            "orderer": contract.orderer.name,
            "period": [to_wareki(contract.period_start), to_wareki(contract.period_end)],
        },
        "info_manager": _person(info.entry) if info else None,
        "pi_manager": _person(pi.entry) if pi else None,
        "items": list(texts.PLEDGE_ITEMS),
        "roster": [
            {
                "name": e.name,
                "organisation": e.organisation.name,
                "category": str(categories.get(e.category, e.category)),
                "department": e.department,
                "position": e.position,
                "started_on": to_wareki(e.started_on),
            }
            for e in roster
        ],
        "signature": signer,
    }


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the content (sorted keys, UTF-8, no spaces)."""
    body = json.dumps(
        content, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@transaction.atomic
def sign_pledge(
    contract: Contract,
    *,
    acting_user: Any,
    addressee: str,
    representative: str,
    typed_name: str,
    seal_box: bool = False,
) -> Pledge:
    """Sign the pledge (誓約書 様式1) as the information manager (R2.6.1, P4): both managers must be
    appointed; the typed name must be the signer's own. A new version supersedes the previous one."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "pledge.sign", contract)
    if contract.status not in OPEN_STATES:
        raise Conflict(_("完了した契約では誓約書を署名できません。"), code="contract_closed")
    appointments = current_appointments(contract)
    for kind in (AppointmentKind.INFO_MANAGER, AppointmentKind.PI_MANAGER):
        if kind not in appointments:
            raise Conflict(
                _("誓約書の前に{kind}を選任してください。").format(kind=AppointmentKind(kind).label),
                code="appointment_required",
                clause=APPOINTMENT_CLAUSE[kind],
            )
    if not addressee.strip() or not representative.strip():
        raise Invalid(_("宛先と代表者（役職・氏名）を入力してください。"), clause="R2.6.1")
    entry = roster_entry_of(acting_user, contract)
    expected = entry.name if entry is not None else (acting_user.display_name or acting_user.username)
    if not texts.same_name(typed_name, expected):
        raise Invalid(
            _("署名欄には氏名（{name}）を入力してください。").format(name=expected),
            code="name_mismatch",
            clause="R2.6.1",
        )
    signed_at = timezone.now()
    local = timezone.localtime(signed_at)
    version = (
        Pledge.objects.filter(contract=contract)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
        or 0
    ) + 1
    content = pledge_content(
        contract,
        addressee=addressee,
        representative=representative,
        seal_box=seal_box,
        version=version,
        signer={
            "typed_name": typed_name.strip(),
            "username": acting_user.get_username(),
            "signed_at": local.isoformat(timespec="seconds"),
            "signed_at_wareki": f"{to_wareki(local.date())} {local:%H:%M:%S}",
        },
    )
    digest = content_hash(content)
    previous = supersede_pledge(contract, actor=acting_user, reason="new_version")
    pledge = Pledge.objects.create(
        contract=contract,
        version=version,
        content=content,
        content_sha256=digest,
        info_manager=appointments[AppointmentKind.INFO_MANAGER],
        pi_manager=appointments[AppointmentKind.PI_MANAGER],
        typed_name=typed_name.strip(),
        signed_by=acting_user,
        signed_at=signed_at,
    )
    record(
        actor=acting_user,
        action="pledge.sign",
        contract=contract,
        obj=pledge,
        summary={
            "version": version,
            "sha256": digest,
            "typed_name": pledge.typed_name,
            "info_manager": content["info_manager"]["name"],
            "pi_manager": content["pi_manager"]["name"],
            "roster_size": len(content["roster"]),
            "previous": previous.version if previous is not None else None,
        },
    )
    return pledge


def verify_pledge(pledge: Pledge) -> bool:
    """Whether the stored content still hashes to the signed hash."""
    return content_hash(pledge.content) == pledge.content_sha256
