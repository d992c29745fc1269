"""Incident steps (R2.8.1, R2.8.2, P10). Each checks the access policy, enforces its rule against the state
table, changes the incident and appends the audit event, in one transaction; notifications are e-mailed only
after it commits.

Who does what
    - anyone of the contract but the auditor reports (an incident or a near miss);
    - reporting notifies the orderer officers at once, and that is the step "orderer notified";
    - the contractor's side investigates: the information manager, or the staff member who reported it;
    - only an orderer officer closes the incident, or sends it back to the investigation with an instruction;
    - the orderer officer records the city's 速報 and 確報 to the 個人情報保護委員会.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.core.models import Contract, Role, User
from sekisho.ledger.models import Asset, PersonalCategory
from sekisho.notifications.services import notify

from . import deadlines
from .models import (
    INCIDENT_TRANSITIONS,
    Incident,
    IncidentKind,
    IncidentSettings,
    IncidentState,
)

REPORT_CLAUSE = "R2.8.1"
REMEDY_CLAUSE = "R2.8.2"
PERSONAL_CLAUSE = "P10"
# A clock a little ahead of the server's is no reason to refuse a report.
CLOCK_SKEW = dt.timedelta(minutes=10)
MAX_TEXT = 10_000


@dataclass
class IncidentData:
    """What the reporter tells. The same fields are revised later by ``revise_facts``."""

    kind: str
    title: str
    description: str
    detected_at: dt.datetime
    occurred_at: dt.datetime | None = None
    near_miss: bool = False
    assets: Sequence[Asset] = ()
    has_personal_info: bool = False
    personal_categories: Sequence[str] = ()
    personal_count: int | None = None
    personal_sensitive: bool = False
    financial_damage_risk: bool = False
    wrongful_purpose: bool = False
    encrypted: bool = False
    summary_extra: dict[str, Any] = field(default_factory=dict)


# --- helpers ------------------------------------------------------------------------------------------------


def incident_url(incident: Incident) -> str:
    return reverse("incidents:detail", args=[incident.contract_id, incident.pk])


def _members(contract: Contract, *roles: str) -> list[User]:
    return list(
        User.objects.filter(
            is_active=True,
            memberships__contract=contract,
            memberships__role__in=roles,
            memberships__ended_at__isnull=True,
        ).order_by("username")
    )


def _locked(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().select_related("contract", "reported_by").get(pk=incident.pk)


def _transition(incident: Incident, to: str, *, frm: str) -> None:
    """Each step is one move of the table: from its own state only. (The orderer's return and the start of
    the investigation both lead to "investigating", from different states, by different people.)"""
    if incident.state != frm or to not in INCIDENT_TRANSITIONS[incident.state]:
        raise Conflict(
            _("「{state}」の事案を「{to}」にすることはできません。").format(
                state=IncidentState(incident.state).label, to=IncidentState(to).label
            ),
            code="invalid_transition",
            clause=REMEDY_CLAUSE,
        )


def _require_investigator(incident: Incident, acting_user: Any, action: str = "incident.investigate") -> str:
    """The information manager, or the staff member who reported the incident."""
    role = policy.require(acting_user, action, incident, clause=REMEDY_CLAUSE)
    if role == Role.STAFF and incident.reported_by_id != getattr(acting_user, "pk", None):
        raise Forbidden(
            _("調査の記録は、情報管理責任者又は報告した本人が行います。"),
            code="not_investigator",
            clause=REMEDY_CLAUSE,
        )
    return role


def may_investigate(user: Any, incident: Incident, action: str = "incident.investigate") -> bool:
    """Whether *user* may take the contractor's steps on *incident* (for showing the forms)."""
    try:
        _require_investigator(incident, user, action)
    except (Forbidden, NotFound):
        return False
    return True


def _text(value: str, label: str, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(_("{label}を入力してください。").format(label=label))
    if len(value) > MAX_TEXT:
        raise Invalid(_("{label}は{max}文字以内で入力してください。").format(label=label, max=MAX_TEXT))
    return value


def _check(contract: Contract, data: IncidentData, *, now: dt.datetime) -> None:
    if data.kind not in IncidentKind.values:
        raise Invalid(_("事案の種別が正しくありません。"))
    _text(data.title, _("件名"))
    if len(data.title.strip()) > 200:
        raise Invalid(_("件名は200文字以内で入力してください。"))
    _text(data.description, _("概要"))
    if data.detected_at > now + CLOCK_SKEW:
        raise Invalid(_("覚知日時に未来の日時は指定できません。"))
    if data.occurred_at is not None and data.occurred_at > data.detected_at:
        raise Invalid(_("発生日時は覚知日時以前にしてください。"))
    if any(a.contract_id != contract.pk for a in data.assets):
        raise Invalid(_("対象の台帳情報が見つかりません。"), code="unknown_asset")
    unknown = set(data.personal_categories) - set(PersonalCategory.values)
    if unknown:
        raise Invalid(_("個人情報の項目が正しくありません。"))
    if data.has_personal_info:
        if not data.personal_categories:
            raise Invalid(_("個人情報の項目を1つ以上選んでください。"), clause=PERSONAL_CLAUSE)
        if data.personal_count is None or data.personal_count < 1:
            raise Invalid(
                _(
                    "本人の数を入力してください（調査中の場合は見込みの数を入力し、判明後に更新してください）。"
                ),
                clause=PERSONAL_CLAUSE,
            )
    else:
        if data.personal_categories or data.personal_count or data.personal_sensitive:
            raise Invalid(
                _("個人情報を含む場合は「個人情報を含む」を選んでください。"), clause=PERSONAL_CLAUSE
            )
        personal_assets = sorted(a.ref for a in data.assets if a.has_personal_info)
        if personal_assets:
            raise Invalid(
                _(
                    "対象の台帳情報（{refs}）は個人情報を含みます。「個人情報を含む」を選んでください。"
                ).format(refs=", ".join(personal_assets)),
                code="personal_info_in_assets",
                clause=PERSONAL_CLAUSE,
            )


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """A time without a zone (an API client's "2026-07-17T09:00") is the deployment's local time."""
    if moment is not None and timezone.is_naive(moment):
        return timezone.make_aware(moment)
    return moment


def _normalised(data: IncidentData) -> IncidentData:
    """Times get a zone; 要配慮個人情報 is both a category and a flag (as in the ledger): either sets both."""
    data = replace(
        data, detected_at=_aware(data.detected_at) or data.detected_at, occurred_at=_aware(data.occurred_at)
    )
    if not data.has_personal_info:
        return data
    sensitive = data.personal_sensitive or PersonalCategory.SENSITIVE in data.personal_categories
    categories = [*data.personal_categories, *([PersonalCategory.SENSITIVE] if sensitive else [])]
    return replace(data, personal_sensitive=sensitive, personal_categories=_in_order(categories))


def _facts_summary(data: IncidentData) -> dict[str, Any]:
    return {
        "kind": data.kind,
        "near_miss": data.near_miss,
        "detected_at": data.detected_at,
        "occurred_at": data.occurred_at,
        "assets": sorted(a.ref for a in data.assets),
        "personal": data.has_personal_info,
        "categories": _in_order(data.personal_categories),
        "count": data.personal_count,
        "sensitive": data.personal_sensitive,
        "financial": data.financial_damage_risk,
        "wrongful_purpose": data.wrongful_purpose,
        "encrypted": data.encrypted,
    }


def _in_order(categories: Iterable[str]) -> list[str]:
    """The categories in the ledger's order (氏名, 住所, …), each once."""
    chosen = set(categories)
    return [value for value in PersonalCategory.values if value in chosen]


def _next_ref(contract: Contract) -> str:
    """I-1, I-2, … per contract. The caller holds the contract's row lock, so two reports cannot share one."""
    refs = Incident.objects.filter(contract=contract).values_list("ref", flat=True)
    numbers = [int(ref.split("-")[1]) for ref in refs if ref.startswith("I-") and ref[2:].isdigit()]
    return f"I-{max(numbers, default=0) + 1}"


def contract_settings(contract: Contract) -> IncidentSettings | None:
    return IncidentSettings.objects.filter(contract=contract).first()


# --- reporting and notifying ---------------------------------------------------------------------------------


@transaction.atomic
def report_incident(contract: Contract, *, acting_user: Any, data: IncidentData) -> Incident:
    """Report an incident or a near miss. Enforces R2.8.1 / P10: the orderer officers are notified at once
    (in Sekisho and by e-mail after the commit), and the time it took is recorded."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "incident.report", contract, clause=REPORT_CLAUSE)
    now = timezone.now()
    data = _normalised(data)
    _check(contract, data, now=now)
    incident = Incident.objects.create(
        contract=contract,
        ref=_next_ref(contract),
        near_miss=data.near_miss,
        kind=data.kind,
        title=data.title.strip(),
        description=data.description.strip(),
        occurred_at=data.occurred_at,
        detected_at=data.detected_at,
        reported_at=now,
        reported_by=acting_user,
        has_personal_info=data.has_personal_info,
        personal_categories=_in_order(data.personal_categories),
        personal_count=data.personal_count if data.has_personal_info else None,
        personal_sensitive=data.personal_sensitive,
        financial_damage_risk=data.financial_damage_risk,
        wrongful_purpose=data.wrongful_purpose,
        encrypted=data.encrypted,
        updated_at=now,
    )
    incident.assets.set(data.assets)
    record(
        actor=acting_user,
        action="incident.report",
        contract=contract,
        obj=incident,
        summary={
            "ref": incident.ref,
            "title": incident.title,
            **_facts_summary(data),
            "seconds_to_report": round((now - data.detected_at).total_seconds()),
            **data.summary_extra,
        },
    )
    _notify_orderer(incident, acting_user=acting_user)
    return incident


def _notify_orderer(incident: Incident, *, acting_user: Any) -> bool:
    """Queue the orderer's notification and move to "orderer notified". False (and the incident stays
    "reported") when the contract has no orderer officer to tell; the managers are told that instead."""
    contract = incident.contract
    orderers = _members(contract, Role.ORDERER)
    managers = [u for u in _members(contract, Role.MANAGER) if u.pk != getattr(acting_user, "pk", None)]
    label = _("ヒヤリハット") if incident.near_miss else _("事故")
    subject = _("{label}の報告: {contract} {ref} {kind}").format(
        label=label, contract=contract.number, ref=incident.ref, kind=IncidentKind(incident.kind).label
    )
    body = _(
        "契約「{title}」で{label}が報告されました。\n事案番号: {ref}\n種別: {kind}\n覚知日時: {detected}\n報告者: {reporter}"
    ).format(
        title=contract.title,
        label=label,
        ref=incident.ref,
        kind=IncidentKind(incident.kind).label,
        detected=timezone.localtime(incident.detected_at).strftime("%Y-%m-%d %H:%M"),
        reporter=str(incident.reported_by),
    )
    url = incident_url(incident)
    if not orderers:
        notify(
            managers,
            contract=contract,
            subject=_("発注者担当が未設定のため、事故報告を通知できません: {ref}").format(ref=incident.ref),
            body=body,
            url=url,
        )
        return False
    notify([*orderers, *managers], contract=contract, subject=subject, body=body, url=url)
    _transition(incident, IncidentState.ORDERER_NOTIFIED, frm=IncidentState.REPORTED)
    now = timezone.now()
    incident.state = IncidentState.ORDERER_NOTIFIED
    incident.notified_at = now
    incident.updated_at = now
    incident.save(update_fields=["state", "notified_at", "updated_at"])
    record(
        actor=acting_user,
        action="incident.orderer_notified",
        contract=contract,
        obj=incident,
        summary={
            "ref": incident.ref,
            "to": [u.username for u in orderers],
            "also": [u.username for u in managers],
            "seconds_to_notify": round((now - incident.reported_at).total_seconds(), 3),
        },
    )
    return True


@transaction.atomic
def notify_orderer(incident: Incident, *, acting_user: Any) -> Incident:
    """Try the orderer's notification again (after an orderer officer has been appointed). R2.8.1."""
    incident = _locked(incident)
    _require_investigator(incident, acting_user)
    _transition(incident, IncidentState.ORDERER_NOTIFIED, frm=IncidentState.REPORTED)
    if not _notify_orderer(incident, acting_user=acting_user):
        raise Conflict(
            _("この契約には発注者担当がいないため、通知できません。"),
            code="no_orderer_officer",
            clause=REPORT_CLAUSE,
        )
    return incident


def open_incident_for_lost_device(
    *,
    contract: Contract,
    acting_user: Any,
    device_label: str,
    detected_at: dt.datetime,
    note: str,
    assets: Sequence[Asset] = (),
) -> Incident:
    """A device or medium marked lost or stolen opens an incident of kind "device loss" (R2.7, R2.8.1).

    Called by the devices app inside its own transaction, so the device's state and the incident commit
    together. Whether personal information was on it is for the investigation to establish
    (``revise_facts``); assets on it with personal information make the report say so from the start."""
    personal_assets = [a for a in assets if a.has_personal_info]
    categories = sorted({c for a in personal_assets for c in (a.personal_categories or [])})
    count = sum(a.personal_count or 0 for a in personal_assets) or None
    data = IncidentData(
        kind=IncidentKind.DEVICE_LOSS,
        title=_("端末・記録媒体の紛失: {device}").format(device=device_label)[:200],
        description=note.strip() or _("端末・記録媒体が紛失又は盗難として登録されました。"),
        detected_at=detected_at,
        assets=assets,
        has_personal_info=bool(personal_assets),
        personal_categories=categories or ([PersonalCategory.OTHER] if personal_assets else []),
        personal_count=count or (1 if personal_assets else None),
        personal_sensitive=any(a.personal_sensitive for a in personal_assets),
        summary_extra={"device": device_label},
    )
    return report_incident(contract, acting_user=acting_user, data=data)


# --- the investigation ---------------------------------------------------------------------------------------


def _step(
    incident: Incident,
    *,
    acting_user: Any,
    to: str,
    action: str,
    fields: dict[str, str],
    note: str = "",
    also: Sequence[str] = (),
) -> Incident:
    """Move along the table (already checked) and record the step with what it wrote."""
    now = timezone.now()
    before = incident.state
    for name, value in fields.items():
        setattr(incident, name, value)
    incident.state = to
    incident.updated_at = now
    incident.save(update_fields=[*fields, *also, "state", "updated_at"])
    record(
        actor=acting_user,
        action=action,
        contract=incident.contract,
        obj=incident,
        summary={"ref": incident.ref, "from": before, "to": to, **fields, **({"note": note} if note else {})},
    )
    return incident


@transaction.atomic
def start_investigation(incident: Incident, *, acting_user: Any, note: str = "") -> Incident:
    """Begin the investigation (R2.8.2)."""
    incident = _locked(incident)
    _require_investigator(incident, acting_user)
    _transition(incident, IncidentState.INVESTIGATING, frm=IncidentState.ORDERER_NOTIFIED)
    return _step(
        incident,
        acting_user=acting_user,
        to=IncidentState.INVESTIGATING,
        action="incident.start_investigation",
        fields={},
        note=_text(note, _("備考"), required=False),
    )


@transaction.atomic
def record_cause(incident: Incident, *, acting_user: Any, cause: str, secondary_damage: str = "") -> Incident:
    """The cause, found (R2.8.2: 原因の究明), and whether there is secondary damage or a risk of it."""
    incident = _locked(incident)
    _require_investigator(incident, acting_user)
    _transition(incident, IncidentState.CAUSE_IDENTIFIED, frm=IncidentState.INVESTIGATING)
    return _step(
        incident,
        acting_user=acting_user,
        to=IncidentState.CAUSE_IDENTIFIED,
        action="incident.record_cause",
        fields={
            "cause": _text(cause, _("原因")),
            "secondary_damage": _text(secondary_damage, _("二次被害"), required=False),
        },
    )


@transaction.atomic
def record_corrective_measures(
    incident: Incident,
    *,
    acting_user: Any,
    measures: str,
    response_to_individuals: str = "",
    publication: str = "",
) -> Incident:
    """What was done about this incident (R2.8.2: 補完措置), towards the people concerned and the public."""
    incident = _locked(incident)
    _require_investigator(incident, acting_user)
    _transition(incident, IncidentState.CORRECTIVE, frm=IncidentState.CAUSE_IDENTIFIED)
    return _step(
        incident,
        acting_user=acting_user,
        to=IncidentState.CORRECTIVE,
        action="incident.record_corrective_measures",
        fields={
            "corrective_measures": _text(measures, _("是正・補完措置")),
            "response_to_individuals": _text(response_to_individuals, _("本人への対応"), required=False),
            "publication": _text(publication, _("公表"), required=False),
        },
    )


@transaction.atomic
def record_prevention(
    incident: Incident, *, acting_user: Any, prevention: str, other_notes: str = ""
) -> Incident:
    """The measures against recurrence (R2.8.2: 再発防止). The orderer officers are asked to confirm."""
    incident = _locked(incident)
    _require_investigator(incident, acting_user)
    _transition(incident, IncidentState.PREVENTION, frm=IncidentState.CORRECTIVE)
    incident = _step(
        incident,
        acting_user=acting_user,
        to=IncidentState.PREVENTION,
        action="incident.record_prevention",
        fields={
            "prevention": _text(prevention, _("再発防止策")),
            "other_notes": _text(other_notes, _("その他参考となる事項"), required=False),
        },
    )
    notify(
        _members(incident.contract, Role.ORDERER),
        contract=incident.contract,
        subject=_("再発防止策の確認依頼: {contract} {ref}").format(
            contract=incident.contract.number, ref=incident.ref
        ),
        body=_(
            "事案{ref}の原因・是正措置・再発防止策が記録されました。内容を確認し、完了又は差戻しとしてください。"
        ).format(ref=incident.ref),
        url=incident_url(incident),
    )
    return incident


def _contractor_side(incident: Incident) -> list[User]:
    people = _members(incident.contract, Role.MANAGER)
    if incident.reported_by.is_active:
        people.append(incident.reported_by)
    return people


@transaction.atomic
def close_incident(incident: Incident, *, acting_user: Any, note: str = "") -> Incident:
    """The orderer confirms the cause, the measures and the prevention, and closes the incident (R2.8.2).

    Only an orderer officer closes; a mandatory report to the 個人情報保護委員会 must have been made first (P10)."""
    incident = _locked(incident)
    policy.require(acting_user, "incident.close", incident, clause=REMEDY_CLAUSE)
    _transition(incident, IncidentState.CLOSED, frm=IncidentState.PREVENTION)
    if incident.triggers.public_body_report and incident.final_reported_on is None:
        raise Conflict(
            _("個人情報保護委員会への確報が記録されていないため、完了にできません。"),
            code="final_report_missing",
            clause=PERSONAL_CLAUSE,
        )
    incident.closed_at = timezone.now()
    incident.closed_by = acting_user
    incident = _step(
        incident,
        acting_user=acting_user,
        to=IncidentState.CLOSED,
        action="incident.close",
        fields={},
        note=_text(note, _("確認の所見"), required=False),
        also=("closed_at", "closed_by"),
    )
    notify(
        _contractor_side(incident),
        contract=incident.contract,
        subject=_("事案の完了: {contract} {ref}").format(contract=incident.contract.number, ref=incident.ref),
        body=_("発注者が事案{ref}の対応を確認し、完了としました。").format(ref=incident.ref),
        url=incident_url(incident),
    )
    return incident


@transaction.atomic
def return_incident(incident: Incident, *, acting_user: Any, instruction: str) -> Incident:
    """The orderer sends the incident back to the investigation with an instruction (R2.8.2, P10: 指示に従う)."""
    incident = _locked(incident)
    policy.require(acting_user, "incident.close", incident, clause=REMEDY_CLAUSE)
    _transition(incident, IncidentState.INVESTIGATING, frm=IncidentState.PREVENTION)
    incident = _step(
        incident,
        acting_user=acting_user,
        to=IncidentState.INVESTIGATING,
        action="incident.return",
        fields={"orderer_instruction": _text(instruction, _("指示の内容"))},
    )
    notify(
        _contractor_side(incident),
        contract=incident.contract,
        subject=_("事案の差戻し: {contract} {ref}").format(
            contract=incident.contract.number, ref=incident.ref
        ),
        body=_("発注者が事案{ref}を差し戻しました。指示: {instruction}").format(
            ref=incident.ref, instruction=incident.orderer_instruction
        ),
        url=incident_url(incident),
    )
    return incident


# --- facts, reports to the authority, settings ---------------------------------------------------------------


@transaction.atomic
def revise_facts(incident: Incident, *, acting_user: Any, data: IncidentData, note: str = "") -> Incident:
    """Correct what is known as the investigation learns more (the number of people, a wrongful purpose…).
    The deadlines follow the facts; the audit event keeps the facts before and after. P10."""
    incident = _locked(incident)
    role = policy.require(acting_user, "incident.revise", incident, clause=PERSONAL_CLAUSE)
    if role == Role.STAFF:
        _require_investigator(incident, acting_user, "incident.revise")
    if not incident.is_open:
        raise Conflict(_("完了した事案は変更できません。"), code="closed", clause=REMEDY_CLAUSE)
    data = _normalised(data)
    _check(incident.contract, data, now=timezone.now())
    before = _facts_summary(
        IncidentData(
            kind=incident.kind,
            title=incident.title,
            description=incident.description,
            detected_at=incident.detected_at,
            occurred_at=incident.occurred_at,
            near_miss=incident.near_miss,
            assets=list(incident.assets.all()),
            has_personal_info=incident.has_personal_info,
            personal_categories=incident.personal_categories,
            personal_count=incident.personal_count,
            personal_sensitive=incident.personal_sensitive,
            financial_damage_risk=incident.financial_damage_risk,
            wrongful_purpose=incident.wrongful_purpose,
            encrypted=incident.encrypted,
        )
    )
    incident.kind = data.kind
    incident.title = data.title.strip()
    incident.description = data.description.strip()
    incident.detected_at = data.detected_at
    incident.occurred_at = data.occurred_at
    incident.near_miss = data.near_miss
    incident.has_personal_info = data.has_personal_info
    incident.personal_categories = _in_order(data.personal_categories)
    incident.personal_count = data.personal_count if data.has_personal_info else None
    incident.personal_sensitive = data.personal_sensitive
    incident.financial_damage_risk = data.financial_damage_risk
    incident.wrongful_purpose = data.wrongful_purpose
    incident.encrypted = data.encrypted
    incident.updated_at = timezone.now()
    incident.save()
    incident.assets.set(data.assets)
    after = _facts_summary(data)
    record(
        actor=acting_user,
        action="incident.revise",
        contract=incident.contract,
        obj=incident,
        summary={
            "ref": incident.ref,
            "changed": {k: [before[k], after[k]] for k in after if before[k] != after[k]},
            "note": note,
        },
    )
    return incident


class AuthorityReport:
    PROMPT = "prompt"
    FINAL = "final"


@transaction.atomic
def record_authority_report(
    incident: Incident, *, acting_user: Any, stage: str, reported_on: dt.date, note: str = ""
) -> Incident:
    """The orderer officer records the city's 速報 or 確報 to the 個人情報保護委員会 (P10; 施行規則44条)."""
    incident = _locked(incident)
    policy.require(acting_user, "incident.report_authority", incident, clause=PERSONAL_CLAUSE)
    if stage not in (AuthorityReport.PROMPT, AuthorityReport.FINAL):
        raise Invalid(_("報告の区分が正しくありません。"))
    if not incident.triggers.applicable:
        raise Conflict(
            _("個人情報の漏えい等ではないため、個人情報保護委員会への報告はありません。"),
            code="not_applicable",
            clause=PERSONAL_CLAUSE,
        )
    if reported_on < incident.aware_on or reported_on > timezone.localdate():
        raise Invalid(_("報告日は覚知日から今日までの日付にしてください。"))
    name = "prompt_reported_on" if stage == AuthorityReport.PROMPT else "final_reported_on"
    if getattr(incident, name) is not None:
        raise Conflict(_("この報告は既に記録されています。"), code="already_recorded", clause=PERSONAL_CLAUSE)
    setattr(incident, name, reported_on)
    incident.updated_at = timezone.now()
    incident.save(update_fields=[name, "updated_at"])
    record(
        actor=acting_user,
        action=f"incident.authority_report.{stage}",
        contract=incident.contract,
        obj=incident,
        summary={"ref": incident.ref, "reported_on": reported_on, "note": note},
    )
    return incident


@transaction.atomic
def configure_deadlines(
    contract: Contract, *, acting_user: Any, orderer_notice_days: int, prompt_report_business_days: int
) -> IncidentSettings:
    """The orderer sets the contract's targets: notice within N days (0 = the same day), 速報 in N business days."""
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "incident.configure", contract, clause=REPORT_CLAUSE)
    if not 0 <= orderer_notice_days <= 7:
        raise Invalid(_("発注者への報告期限は0〜7日で指定してください（0は当日）。"))
    low, high = deadlines.PROMPT_BUSINESS_DAYS_RANGE
    if not low <= prompt_report_business_days <= high:
        raise Invalid(_("速報の目標は{low}〜{high}営業日で指定してください。").format(low=low, high=high))
    row, _created = IncidentSettings.objects.update_or_create(
        contract=contract,
        defaults={
            "orderer_notice_days": orderer_notice_days,
            "prompt_report_business_days": prompt_report_business_days,
            "updated_by": acting_user,
            "updated_at": timezone.now(),
        },
    )
    record(
        actor=acting_user,
        action="incident.configure",
        contract=contract,
        obj=row,
        summary={
            "orderer_notice_days": orderer_notice_days,
            "prompt_report_business_days": prompt_report_business_days,
        },
    )
    return row
