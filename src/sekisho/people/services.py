"""People steps: the roster, leaving, training and acknowledgements.

Appointments, the pledge and subcontracts are in ``pledges.py`` and ``subcontracts.py``. Every step checks the
policy first, enforces its clause, writes the models and appends the audit event in one transaction.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Conflict, Forbidden, Invalid
from sekisho.core.models import ApiToken, Contract, Membership, Organisation, Role, User
from sekisho.devices.services import revoke_enrollments_of_user

from . import texts
from .models import (
    AckMethod,
    Acknowledgement,
    Appointment,
    LeavingKind,
    Pledge,
    Programme,
    ProgrammeRole,
    ProgrammeVersion,
    RosterEntry,
    SessionMethod,
    StaffCategory,
    TrainingReminder,
    TrainingSession,
)

log = logging.getLogger("sekisho.people")

OPEN_STATES = (Contract.Status.DRAFT, Contract.Status.ACTIVE, Contract.Status.CLOSING)


def _open(contract: Contract) -> None:
    if contract.status not in OPEN_STATES:
        raise Conflict(_("完了した契約では変更できません。"), code="contract_closed")


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day *months* later (the last day of the month when that day does not exist)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def roster_entry_of(user: Any, contract: Contract) -> RosterEntry | None:
    if getattr(user, "pk", None) is None:
        return None
    return RosterEntry.objects.filter(contract=contract, user_id=user.pk).first()


# --- the roster (R2.4.1) -----------------------------------------------------------------------------------


@transaction.atomic
def add_to_roster(
    contract: Contract,
    *,
    acting_user: Any,
    organisation: Organisation,
    name: str,
    category: str,
    started_on: dt.date,
    user: User | None = None,
    name_kana: str = "",
    department: str = "",
    position: str = "",
    contact: str = "",
) -> RosterEntry:
    """Put a person on the contract's roster of 社員等 (R2.4.1), whether or not they log in. Every category
    the regulation lists counts: directors, advisers and dispatched workers as much as employees."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "people.manage", contract)
    _open(contract)
    name = name.strip()
    if not name:
        raise Invalid(_("氏名を入力してください。"))
    if category not in StaffCategory.values:
        raise Invalid(_("社員等の区分を選んでください。"), clause="R2.4.1")
    if organisation != contract.contractor and organisation.kind != Organisation.Kind.SUBCONTRACTOR:
        raise Invalid(_("名簿に登録できるのは受注者と再委託先・下請負者の者です。"), clause="R2.4.1")
    if not isinstance(started_on, dt.date):
        raise Invalid(_("従事開始日を入力してください。"))
    if user is not None:
        if user.organisation_id != organisation.pk:
            raise Invalid(_("利用者の所属組織と名簿の所属組織が一致しません。"))
        if RosterEntry.objects.filter(contract=contract, user=user).exists():
            raise Conflict(_("この利用者は既に名簿に登録されています。"), code="duplicate")
    try:
        with transaction.atomic():
            entry = RosterEntry.objects.create(
                contract=contract,
                organisation=organisation,
                user=user,
                name=name,
                name_kana=name_kana.strip(),
                category=category,
                department=department.strip(),
                position=position.strip(),
                contact=contact.strip(),
                started_on=started_on,
                created_by=acting_user,
            )
    except IntegrityError as exc:  # a concurrent entry for the same user
        raise Conflict(_("この利用者は既に名簿に登録されています。"), code="duplicate") from exc
    record(
        actor=acting_user,
        action="people.roster_add",
        contract=contract,
        obj=entry,
        summary={
            "name": name,
            "organisation": organisation.name,
            "category": category,
            "user": user.username if user else None,
            "started_on": started_on,
        },
    )
    return entry


EDITABLE_FIELDS = ("name", "name_kana", "category", "department", "position", "contact")


@transaction.atomic
def update_roster_entry(entry: RosterEntry, *, acting_user: Any, **changes: str) -> RosterEntry:
    """Correct a person's details (name, category, department, position, contact)."""
    entry = RosterEntry.objects.select_for_update().select_related("contract").get(pk=entry.pk)
    policy.require(acting_user, "people.manage", entry.contract)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise Invalid(_("変更できない項目です: {fields}").format(fields=", ".join(sorted(unknown))))
    if "category" in changes and changes["category"] not in StaffCategory.values:
        raise Invalid(_("社員等の区分を選んでください。"), clause="R2.4.1")
    if "name" in changes and not changes["name"].strip():
        raise Invalid(_("氏名を入力してください。"))
    before = {f: getattr(entry, f) for f in changes}
    for field, value in changes.items():
        setattr(entry, field, value.strip())
    entry.save(update_fields=list(changes))
    record(
        actor=acting_user,
        action="people.roster_update",
        contract=entry.contract,
        obj=entry,
        summary={"before": before, "after": {f: getattr(entry, f) for f in changes}},
    )
    return entry


# --- leaving (R2.4.2, P2, P3) ------------------------------------------------------------------------------


@transaction.atomic
def record_leaving(
    entry: RosterEntry,
    *,
    acting_user: Any,
    left_at: dt.datetime,
    kind: str,
    note: str = "",
    exit_ack_name: str = "",
) -> RosterEntry:
    """Record that a person leaves the work (退職, or 離任 from this contract) at *left_at*, now or later.

    From that instant the gate refuses them the contract's information (checked at each request, R2.4.2);
    their memberships, API tokens, sessions (and, for 退職, the account) are revoked at once when the time
    has come, else by ``process_due_leavers`` (``sekisho tick``). The roster keeps them, and the leaver's
    acknowledgement of the obligations that continue (P2, P3) can be recorded here or later.
    """
    entry = (
        RosterEntry.objects.select_for_update(of=("self",))
        .select_related("contract", "user")
        .get(pk=entry.pk)
    )
    policy.require(acting_user, "people.manage", entry.contract)
    if kind not in LeavingKind.values:
        raise Invalid(_("離任の区分を選んでください。"))
    if timezone.is_naive(left_at):
        raise Invalid(_("離任・退職日時にはタイムゾーンが必要です。"))
    # A leaving not yet due may be rescheduled; one that has taken effect cannot be undone.
    if entry.left_at is not None and (entry.revoked_at is not None or entry.has_left()):
        raise Conflict(_("この者は既に離任（退職）しています。"), code="already_left", clause="R2.4.2")
    entry.left_at = left_at
    entry.leaving_kind = kind
    entry.leaving_note = note.strip()
    entry.save(update_fields=["left_at", "leaving_kind", "leaving_note"])
    record(
        actor=acting_user,
        action="people.leave",
        contract=entry.contract,
        obj=entry,
        summary={"name": entry.name, "left_at": left_at, "kind": kind, "note": note},
    )
    if exit_ack_name.strip():
        _record_exit_ack(entry, acting_user=acting_user, typed_name=exit_ack_name)
    if left_at <= timezone.now():
        _revoke_access(entry, actor=acting_user)
    return entry


def _record_exit_ack(entry: RosterEntry, *, acting_user: Any, typed_name: str) -> None:
    if not texts.same_name(typed_name, entry.name):
        raise Invalid(
            _("署名の氏名が名簿の氏名（{name}）と一致しません。").format(name=entry.name), clause="R2.4.2"
        )
    entry.exit_ack_name = typed_name.strip()
    entry.exit_ack_at = timezone.now()
    entry.exit_ack_sha256 = texts.sha256_text(texts.EXIT_OBLIGATIONS_TEXT)
    entry.exit_ack_recorded_by = acting_user
    entry.save(update_fields=["exit_ack_name", "exit_ack_at", "exit_ack_sha256", "exit_ack_recorded_by"])
    record(
        actor=acting_user,
        action="people.exit_acknowledge",
        contract=entry.contract,
        obj=entry,
        summary={
            "name": entry.name,
            "typed_name": entry.exit_ack_name,
            "sha256": entry.exit_ack_sha256,
            "version": texts.EXIT_OBLIGATIONS_VERSION,
            "self": getattr(acting_user, "pk", None) == entry.user_id,
        },
    )


@transaction.atomic
def acknowledge_exit_obligations(entry: RosterEntry, *, acting_user: Any, typed_name: str) -> RosterEntry:
    """The leaver's acknowledgement that confidentiality continues after leaving (R2.4.2, P2, P3): typed by
    the person themself while they still have access, or recorded by the information manager from the
    signed letter."""
    entry = RosterEntry.objects.select_for_update().select_related("contract").get(pk=entry.pk)
    own = entry.user_id is not None and entry.user_id == getattr(acting_user, "pk", None)
    policy.require(acting_user, "training.acknowledge" if own else "people.manage", entry.contract)
    if entry.left_at is None:
        raise Conflict(_("離任（退職）が記録されていません。"), code="not_leaving", clause="R2.4.2")
    _record_exit_ack(entry, acting_user=acting_user, typed_name=typed_name)
    return entry


def _delete_sessions_of(user: User, now: dt.datetime) -> int:
    # Sessions are signed blobs keyed by a random id; the user id is inside. Only unexpired ones can be used,
    # and the idle timeout keeps them few.
    doomed = [
        s.session_key
        for s in Session.objects.filter(expire_date__gt=now).iterator()
        if str(s.get_decoded().get("_auth_user_id")) == str(user.pk)
    ]
    Session.objects.filter(session_key__in=doomed).delete()
    return len(doomed)


def _revoke_access(entry: RosterEntry, *, actor: Any) -> None:
    """Carry out a leaving whose time has come. Caller holds the entry's lock."""
    now = timezone.now()
    contract = entry.contract
    summary: dict[str, Any] = {"name": entry.name, "left_at": entry.left_at, "kind": entry.leaving_kind}
    user = entry.user
    if user is not None:
        ended = []
        for membership in Membership.objects.select_for_update().filter(
            user=user, contract=contract, ended_at__isnull=True
        ):
            membership.ended_at = entry.left_at
            membership.save(update_fields=["ended_at"])
            ended.append(membership.role)
            record(
                actor=actor,
                action="membership.end",
                contract=contract,
                obj=membership,
                summary={"user": user.username, "role": membership.role, "reason": "people.leave"},
            )
        tokens = list(
            ApiToken.objects.filter(user=user, revoked_at__isnull=True).values_list("prefix", flat=True)
        )
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
        summary.update(
            user=user.username,
            memberships_ended=ended,
            tokens_revoked=tokens,
            sessions_deleted=_delete_sessions_of(user, now),
        )
        if entry.leaving_kind == LeavingKind.RETIRED and user.is_active:
            User.objects.filter(pk=user.pk).update(is_active=False)
            summary["account_deactivated"] = True
        # Their PCs too (R2.7ア): of this contract for a 離任, of every contract for a 退職.
        devices = revoke_enrollments_of_user(
            user,
            acting_user=actor,
            reason=_("{name} の離任・退職（{kind}）").format(
                name=entry.name, kind=LeavingKind(entry.leaving_kind).label
            ),
            contract=None if entry.leaving_kind == LeavingKind.RETIRED else contract,
        )
        summary["devices_revoked"] = [str(d.uid) for d in devices]
    # A manager who leaves is no longer appointed, and the pledge naming them is no longer current (R2.6.1).
    ended_appointments = list(
        Appointment.objects.select_for_update().filter(contract=contract, entry=entry, ended_at__isnull=True)
    )
    for appointment in ended_appointments:
        appointment.ended_at = now
        appointment.save(update_fields=["ended_at"])
    if ended_appointments:
        summary["appointments_ended"] = [a.kind for a in ended_appointments]
        supersede_pledge(contract, actor=actor, reason="manager_left")
    entry.revoked_at = now
    entry.save(update_fields=["revoked_at"])
    record(actor=actor, action="people.access_revoked", contract=contract, obj=entry, summary=summary)


def supersede_pledge(contract: Contract, *, actor: Any, reason: str) -> Pledge | None:
    """Mark the current pledge as no longer current (a manager changed or left). Caller is in a transaction."""
    pledge = Pledge.objects.select_for_update().filter(contract=contract, superseded_at__isnull=True).first()
    if pledge is None:
        return None
    pledge.superseded_at = timezone.now()
    pledge.superseded_reason = reason
    pledge.save(update_fields=["superseded_at", "superseded_reason"])
    record(
        actor=actor,
        action="pledge.superseded",
        contract=contract,
        obj=pledge,
        summary={"version": pledge.version, "reason": reason},
    )
    return pledge


@transaction.atomic
def process_due_leavers(*, now: dt.datetime | None = None) -> int:
    """Carry out the revocations of every leaving whose time has come (``sekisho tick``).

    The gate already refuses such people at the exact time; this ends their memberships, tokens, sessions
    and account so that nothing else (pages without information, the API) stays open either."""
    now = now or timezone.now()
    due = list(
        RosterEntry.objects.select_for_update(of=("self",))
        .select_related("contract", "user")
        .filter(left_at__lte=now, revoked_at__isnull=True)
        .order_by("left_at", "id")
    )
    for entry in due:
        _revoke_access(entry, actor="system")
    return len(due)


# --- training (R2.4.1, P3) ---------------------------------------------------------------------------------


def _check_roles(required_roles: Sequence[str]) -> list[str]:
    roles = sorted(set(required_roles))
    if not roles:
        raise Invalid(_("受講が必要な役割を1つ以上選んでください。"), clause="R2.4.1")
    unknown = [r for r in roles if r not in Role.values]
    if unknown:
        raise Invalid(_("役割が正しくありません: {roles}").format(roles=", ".join(unknown)))
    return roles


def _new_version(programme: Programme, *, content: str, acting_user: Any) -> ProgrammeVersion:
    content = texts.normalise(content)
    if not content:
        raise Invalid(_("研修の内容を入力してください。"))
    number = (programme.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = ProgrammeVersion.objects.create(
        programme=programme,
        number=number,
        content=content,
        content_sha256=texts.sha256_text(content),
        published_by=acting_user,
    )
    programme.current_version = version
    programme.save(update_fields=["current_version"])
    return version


@transaction.atomic
def create_programme(
    contract: Contract,
    *,
    acting_user: Any,
    code: str,
    title: str,
    content: str,
    required_roles: Sequence[str] = (Role.MANAGER, Role.STAFF),
    recurrence_months: int = 12,
    reminder_days: int = 30,
) -> Programme:
    """Set up a training programme with its first version (R2.4.1)."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "training.manage", contract)
    _open(contract)
    code, title = code.strip(), title.strip()
    if not code or not title:
        raise Invalid(_("研修のコードと名称を入力してください。"))
    if not 0 <= recurrence_months <= 60 or not 0 <= reminder_days <= 365:
        raise Invalid(_("再受講の間隔は0〜60か月、通知は0〜365日前で指定してください。"))
    roles = _check_roles(required_roles)
    if Programme.objects.filter(contract=contract, code=code).exists():
        raise Conflict(_("同じコードの研修が既にあります。"), code="duplicate")
    programme = Programme.objects.create(
        contract=contract,
        code=code,
        title=title,
        recurrence_months=recurrence_months,
        reminder_days=reminder_days,
    )
    ProgrammeRole.objects.bulk_create([ProgrammeRole(programme=programme, role=r) for r in roles])
    version = _new_version(programme, content=content, acting_user=acting_user)
    record(
        actor=acting_user,
        action="training.programme_create",
        contract=contract,
        obj=programme,
        summary={
            "code": code,
            "title": title,
            "required_roles": roles,
            "recurrence_months": recurrence_months,
            "version": version.number,
            "sha256": version.content_sha256,
        },
    )
    return programme


def install_default_programme(contract: Contract, *, acting_user: Any) -> Programme:
    """The regulation's own programme, required of the information manager and all staff, yearly."""
    existing = Programme.objects.filter(contract=contract, code=texts.DEFAULT_PROGRAMME_CODE).first()
    if existing is not None:
        return existing
    return create_programme(
        contract,
        acting_user=acting_user,
        code=texts.DEFAULT_PROGRAMME_CODE,
        title=texts.DEFAULT_PROGRAMME_TITLE,
        content=texts.DEFAULT_PROGRAMME_CONTENT,
    )


@transaction.atomic
def publish_version(programme: Programme, *, acting_user: Any, content: str) -> ProgrammeVersion:
    """Publish a new text of a programme. Everyone must acknowledge it again before reaching information."""
    programme = Programme.objects.select_for_update().select_related("contract").get(pk=programme.pk)
    policy.require(acting_user, "training.manage", programme.contract)
    _open(programme.contract)
    current = programme.current_version
    if current is not None and current.content_sha256 == texts.sha256_text(content):
        raise Conflict(_("現在の版と同じ内容です。"), code="unchanged")
    version = _new_version(programme, content=content, acting_user=acting_user)
    record(
        actor=acting_user,
        action="training.version_publish",
        contract=programme.contract,
        obj=programme,
        summary={"version": version.number, "sha256": version.content_sha256},
    )
    return version


@transaction.atomic
def configure_programme(
    programme: Programme,
    *,
    acting_user: Any,
    required_roles: Sequence[str],
    recurrence_months: int,
    reminder_days: int,
    active: bool,
) -> Programme:
    """Change who must take a programme, how often, and whether it is in force."""
    programme = Programme.objects.select_for_update().select_related("contract").get(pk=programme.pk)
    policy.require(acting_user, "training.manage", programme.contract)
    if not 0 <= recurrence_months <= 60 or not 0 <= reminder_days <= 365:
        raise Invalid(_("再受講の間隔は0〜60か月、通知は0〜365日前で指定してください。"))
    roles = _check_roles(required_roles)
    before = [
        programme.required_roles,
        programme.recurrence_months,
        programme.reminder_days,
        programme.active,
    ]
    had = set(programme.required_roles)
    ProgrammeRole.objects.filter(programme=programme).exclude(role__in=roles).delete()
    ProgrammeRole.objects.bulk_create(
        [ProgrammeRole(programme=programme, role=r) for r in roles if r not in had]
    )
    programme.recurrence_months = recurrence_months
    programme.reminder_days = reminder_days
    programme.active = active
    programme.save(update_fields=["recurrence_months", "reminder_days", "active"])
    record(
        actor=acting_user,
        action="training.programme_configure",
        contract=programme.contract,
        obj=programme,
        summary={"before": before, "after": [roles, recurrence_months, reminder_days, active]},
    )
    return programme


def _expiry(programme: Programme, at: dt.datetime) -> dt.datetime | None:
    return add_months(at, programme.recurrence_months) if programme.recurrence_months else None


@transaction.atomic
def acknowledge(
    programme: Programme, *, acting_user: Any, typed_name: str, version_id: int | None = None
) -> Acknowledgement:
    """The person's own acknowledgement of a programme's current text (R2.4.1, P3): the name they type, the
    time, and the SHA-256 of the version they were shown. A page showing an older version is refused."""
    programme = Programme.objects.select_related("contract", "current_version").get(pk=programme.pk)
    contract = programme.contract
    policy.require(acting_user, "training.acknowledge", programme)
    _open(contract)
    version = programme.current_version
    if version is None or not programme.active:
        raise Conflict(_("この研修は現在受講できません。"), code="programme_inactive")
    if version_id is not None and version_id != version.pk:
        raise Conflict(
            _("研修の内容が更新されました。最新の内容を読んでから確認してください。"), code="stale_version"
        )
    entry = roster_entry_of(acting_user, contract)
    if entry is not None and entry.has_left():
        raise Forbidden(_("離任（退職）した者は受講を確認できません。"), code="left", clause="R2.4.2")
    expected = entry.name if entry is not None else (acting_user.display_name or acting_user.username)
    if not texts.same_name(typed_name, expected):
        raise Invalid(
            _("署名欄には氏名（{name}）を入力してください。").format(name=expected),
            code="name_mismatch",
            clause="R2.4.1",
        )
    now = timezone.now()
    ack = Acknowledgement.objects.create(
        contract=contract,
        programme=programme,
        version=version,
        entry=entry,
        user=acting_user,
        typed_name=typed_name.strip(),
        content_sha256=version.content_sha256,
        acknowledged_at=now,
        expires_at=_expiry(programme, now),
        method=AckMethod.SELF,
        recorded_by=acting_user,
    )
    record(
        actor=acting_user,
        action="training.acknowledge",
        contract=contract,
        obj=ack,
        summary={
            "programme": programme.code,
            "version": version.number,
            "sha256": version.content_sha256,
            "typed_name": ack.typed_name,
            "expires_at": ack.expires_at,
        },
    )
    return ack


@transaction.atomic
def record_session(
    programme: Programme,
    *,
    acting_user: Any,
    held_at: dt.datetime,
    method: str,
    instructor: str,
    attendees: Sequence[tuple[RosterEntry, str]],
    place: str = "",
    note: str = "",
) -> TrainingSession:
    """Record a held session and each attendee's signature on the attendance sheet (typed from it). This
    is how people who never log in are trained and acknowledge (R2.4.1)."""
    programme = Programme.objects.select_related("contract", "current_version").get(pk=programme.pk)
    contract = programme.contract
    policy.require(acting_user, "people.manage", contract)
    _open(contract)
    version = programme.current_version
    if version is None:
        raise Conflict(_("この研修は現在受講できません。"), code="programme_inactive")
    if method not in SessionMethod.values:
        raise Invalid(_("実施方法を選んでください。"))
    if not instructor.strip():
        raise Invalid(_("講師を入力してください。"))
    if timezone.is_naive(held_at) or held_at > timezone.now():
        raise Invalid(_("実施日時は現在以前の日時にしてください。"))
    if not attendees:
        raise Invalid(_("受講者を1名以上指定してください。"))
    for entry, typed in attendees:
        if entry.contract_id != contract.pk:
            raise Invalid(_("受講者が名簿に見つかりません。"))
        if entry.has_left(held_at):
            raise Invalid(_("{name}は実施日時に離任しています。").format(name=entry.name))
        if not texts.same_name(typed, entry.name):
            raise Invalid(
                _("署名の氏名が名簿の氏名（{name}）と一致しません。").format(name=entry.name), clause="R2.4.1"
            )
    session = TrainingSession.objects.create(
        contract=contract,
        programme=programme,
        version=version,
        held_at=held_at,
        method=method,
        instructor=instructor.strip(),
        place=place.strip(),
        note=note.strip(),
        recorded_by=acting_user,
    )
    Acknowledgement.objects.bulk_create(
        [
            Acknowledgement(
                contract=contract,
                programme=programme,
                version=version,
                entry=entry,
                user=entry.user,
                typed_name=typed.strip(),
                content_sha256=version.content_sha256,
                acknowledged_at=held_at,
                expires_at=_expiry(programme, held_at),
                method=AckMethod.SESSION,
                session=session,
                recorded_by=acting_user,
            )
            for entry, typed in attendees
        ]
    )
    record(
        actor=acting_user,
        action="training.session_record",
        contract=contract,
        obj=session,
        summary={
            "programme": programme.code,
            "version": version.number,
            "sha256": version.content_sha256,
            "held_at": held_at,
            "method": method,
            "instructor": session.instructor,
            "attendees": sorted(entry.name for entry, _typed in attendees),
        },
    )
    return session


@transaction.atomic
def send_training_reminders(*, now: dt.datetime | None = None) -> int:
    """Remind each person whose acknowledgement lapses within the programme's notice period (once per
    acknowledgement, and only for their newest one). Run by ``sekisho tick``; mail goes out after commit."""
    now = now or timezone.now()
    renewed = Acknowledgement.objects.filter(
        Q(entry_id=OuterRef("entry_id")) | Q(user_id=OuterRef("user_id")),
        programme_id=OuterRef("programme_id"),
        acknowledged_at__gt=OuterRef("acknowledged_at"),
    )
    candidates = (
        Acknowledgement.objects.select_related("programme", "contract", "user")
        .filter(
            expires_at__gt=now,
            expires_at__lte=now + dt.timedelta(days=365),
            reminder__isnull=True,
            programme__active=True,
            version_id=F("programme__current_version_id"),
        )
        .filter(Q(entry__isnull=True) | Q(entry__left_at__isnull=True) | Q(entry__left_at__gt=now))
        .exclude(Exists(renewed))
        .order_by("expires_at", "id")
    )
    sent = 0
    for ack in candidates:
        assert ack.expires_at is not None
        if ack.expires_at - dt.timedelta(days=ack.programme.reminder_days) > now:
            continue
        told = _remind(ack)
        TrainingReminder.objects.create(
            acknowledgement=ack, sent_at=now, sent_to=", ".join(u.get_username() for u in told)
        )
        record(
            actor="system",
            action="training.reminder",
            contract=ack.contract,
            obj=ack,
            summary={
                "programme": ack.programme.code,
                "person": ack.typed_name,
                "expires_at": ack.expires_at,
                "told": sorted(u.get_username() for u in told),
            },
        )
        sent += 1
    return sent


def _remind(ack: Acknowledgement) -> list[User]:
    """Tell the person (in the app and by e-mail); for someone who never logs in, tell the contract's
    information manager, who trains them."""
    from sekisho.notifications.services import notify

    assert ack.expires_at is not None
    people = [ack.user] if ack.user is not None and ack.user.is_active else []
    if not people:
        people = [
            m.user
            for m in Membership.objects.current()
            .filter(contract=ack.contract, role=Role.MANAGER)
            .select_related("user")
        ]
    expires = timezone.localtime(ack.expires_at)
    notify(
        people,
        contract=ack.contract,
        subject=_("研修の再受講期限が近づいています: {title}").format(title=ack.programme.title),
        body=_(
            "{name} さんの研修「{title}」の受講確認は {expires} に期限を迎えます。期限を過ぎると行政情報に"
            "接することができなくなります（R2.4.1）。期限までに再度受講し、内容を確認してください。"
        ).format(name=ack.typed_name, title=ack.programme.title, expires=expires.strftime("%Y-%m-%d %H:%M")),
        url=reverse("people:programme", args=[ack.contract_id, ack.programme_id]),
    )
    return people
