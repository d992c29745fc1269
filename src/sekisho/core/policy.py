"""The access policy: who may see and do what. Every read goes through ``visible``, every action through
``require``; views, API endpoints, the CLI and tasks never hand-roll a check.

Access is per contract. A user who is not a current member of an object's contract is an *outsider* and gets
``NotFound`` (404) — never a hint that the object exists. A member whose role lacks the action gets
``Forbidden`` (403).
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.utils.translation import gettext as _

from .errors import Forbidden, NotFound
from .models import Contract, Membership, Role

M = TypeVar("M", bound=models.Model)

ALL_ROLES = frozenset(Role.values)

# action -> roles of the contract that may perform it. Later domains add their rows here.
ACTIONS: dict[str, frozenset[str]] = {
    "contract.view": ALL_ROLES,
    # draft -> active: the contractor's information manager starts the work (R2.6.1 adds the pledge check).
    "contract.activate": frozenset({Role.MANAGER}),
    # active -> closing: either side may start close-out.
    "contract.start_closing": frozenset({Role.MANAGER, Role.ORDERER}),
    # closing -> closed / back to active: the orderer confirms (or rejects) the close-out (R2.5).
    "contract.close": frozenset({Role.ORDERER}),
    "contract.reopen": frozenset({Role.ORDERER}),
    "membership.view": ALL_ROLES,
    "membership.manage": frozenset({Role.MANAGER, Role.ORDERER}),
    "audit.view": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    # Tamper-evident log (R2.9, P11): sign a tree head now, export for inspections; only the orderer pins
    # the heads it has seen (the witness).
    "audit.sign": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    "audit.export": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    "audit.pin": frozenset({Role.ORDERER}),
    # Devices and media (R2.6.2ア, R2.7ア/イ/エ): staff register their own, the information manager approves.
    "device.view": ALL_ROLES,
    "device.register": frozenset({Role.MANAGER, Role.STAFF}),
    "device.approve": frozenset({Role.MANAGER}),
    "device.mark_lost": frozenset({Role.MANAGER, Role.STAFF}),
    "posture_policy.manage": frozenset({Role.MANAGER}),
    "media.view": ALL_ROLES,
    "media.register": frozenset({Role.MANAGER, Role.STAFF}),
    "media.approve": frozenset({Role.MANAGER}),
    "media.custody": frozenset({Role.MANAGER}),
    "media.mark_lost": frozenset({Role.MANAGER, Role.STAFF}),
    # Ledger (R1.1): everyone of the contract reads it; the contractor's people register what they hold.
    "asset.view": ALL_ROLES,
    "asset.register": frozenset({Role.MANAGER, Role.STAFF}),
    "asset.update": frozenset({Role.MANAGER}),
    "asset.import": frozenset({Role.MANAGER}),
    "asset.export": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    # Permits: the contractor's people ask; the deciding role depends on the kind (permits.models.DECIDER_ROLE).
    "permit.view": ALL_ROLES,
    "permit.request": frozenset({Role.MANAGER, Role.STAFF}),
    "permit.decide": frozenset({Role.ORDERER, Role.MANAGER}),
    "permit.use": frozenset({Role.MANAGER, Role.STAFF}),
    # People (R2.4.1–R2.4.3, R2.6.1, P2–P4, P8): the information manager keeps the roster, training,
    # appointments, pledge and subcontracts; the orderer and auditors read them; everyone takes training.
    "people.view": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    "people.manage": frozenset({Role.MANAGER}),
    "people.report": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    "training.view": ALL_ROLES,
    "training.manage": frozenset({Role.MANAGER}),
    "training.acknowledge": ALL_ROLES,
    "appointment.manage": frozenset({Role.MANAGER}),
    "pledge.view": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    "pledge.sign": frozenset({Role.MANAGER}),
    "subcontract.view": ALL_ROLES,
    "subcontract.manage": frozenset({Role.MANAGER}),
    "subcontract.flowdown": frozenset({Role.MANAGER, Role.STAFF}),
    # Vault (R2.6.2イ/ウ, R2.7ア–オ): the contractor's people put and get content (from approved devices,
    # checked by the vault on top); everyone of the contract sees the versions and their hashes. Shredding
    # executes the orderer's destruction permit (R2.5, P9).
    "vault.view": ALL_ROLES,
    "vault.upload": frozenset({Role.MANAGER, Role.STAFF}),
    "vault.download": frozenset({Role.MANAGER, Role.STAFF}),
    "vault.shred": frozenset({Role.MANAGER}),
    "transfer.view": ALL_ROLES,
    "transfer.build": frozenset({Role.MANAGER, Role.STAFF}),
    "transfer.confirm": frozenset({Role.MANAGER, Role.STAFF}),
    # Incidents (R2.8.1, R2.8.2, P10): anyone of the contract but the auditor reports; the contractor's side
    # investigates (staff only what they reported: the service checks); only the orderer closes.
    "incident.view": ALL_ROLES,
    "incident.report": frozenset({Role.ORDERER, Role.MANAGER, Role.STAFF}),
    "incident.investigate": frozenset({Role.MANAGER, Role.STAFF}),
    "incident.revise": frozenset({Role.ORDERER, Role.MANAGER, Role.STAFF}),
    "incident.close": frozenset({Role.ORDERER}),
    "incident.report_authority": frozenset({Role.ORDERER}),
    "incident.configure": frozenset({Role.ORDERER}),
    # Compliance (R3, R2.9): findings and clause states for the orderer, the information manager and auditors
    # (not staff: the findings name colleagues and weaknesses); the two sides run an evaluation on demand; the
    # orderer loads its own wording of the regulation (a profile) for all its contracts.
    "compliance.view": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    "compliance.evaluate": frozenset({Role.ORDERER, Role.MANAGER}),
    "compliance.profile": frozenset({Role.ORDERER}),
    # Oversight (R3): the orderer requests reports and inspects; the information manager answers; auditors
    # (also time-limited inspectors, Membership.expires_at) read. Staff do not see the orderer's oversight.
    "oversight.view": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    "report_request.create": frozenset({Role.ORDERER}),
    "report_request.review": frozenset({Role.ORDERER}),
    "report_request.answer": frozenset({Role.MANAGER}),
    "report_request.attachment": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    "inspection.manage": frozenset({Role.ORDERER}),
    "inspection.respond": frozenset({Role.MANAGER}),
    "inspector.grant": frozenset({Role.ORDERER}),
    # Close-out (R2.5, P9): either side opens the checklist; the information manager resolves items (hands
    # over, destroys, proposes retention) and issues the certificate; the orderer instructs destruction or
    # retention, confirms receipt, acknowledges retention and confirms the certificate. Staff take no part.
    "closeout.view": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    "closeout.open": frozenset({Role.MANAGER, Role.ORDERER}),
    "closeout.resolve": frozenset({Role.MANAGER}),
    "closeout.confirm": frozenset({Role.ORDERER}),
    "closeout.instruct": frozenset({Role.ORDERER}),
    "closeout.certificate": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
    # The construction plan's 情報流出防止対策 section (R1.2), written from the live configuration.
    "plan.view": frozenset({Role.ORDERER, Role.MANAGER, Role.AUDITOR}),
}


# Actions that reach the contract's information: refused to members not cleared by the people gates (trained
# and acknowledged, not left, subcontract permitted and flowed down — R2.4.1–R2.4.3, P3, P8).
INFORMATION_ACTIONS = frozenset(
    {
        *("asset.view", "asset.register", "asset.update", "asset.import", "asset.export", "permit.use"),
        *("vault.view", "vault.upload", "vault.download", "vault.shred"),
        *("transfer.view", "transfer.build", "transfer.confirm"),
        "report_request.attachment",
        "closeout.resolve",
    }
)


def _contract_path(model: type[models.Model]) -> str:
    if model is Contract:
        return ""
    path = getattr(model, "policy_contract_path", None)
    if path is None:
        raise TypeError(f"{model.__name__} has no policy_contract_path; the policy cannot scope it")
    return str(path)


def member_contract_ids(user: Any) -> Any:
    """Subquery of the ids of contracts where *user* is a current member: not ended, and not past its end
    time (``Membership.expires_at``), so a time-limited inspector loses access at that instant, tick or not."""
    return Membership.objects.current().filter(user_id=user.pk).values("contract_id")


def visible(user: Any, model: type[M]) -> models.QuerySet[M]:
    """All objects of *model* the user may read: those of contracts where the user is a current member."""
    manager = model._default_manager
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return manager.none()
    path = _contract_path(model)
    lookup = f"{path}__id__in" if path else "id__in"
    return manager.filter(**{lookup: member_contract_ids(user)})


def contract_of(obj: models.Model) -> Contract:
    if isinstance(obj, Contract):
        return obj
    path = _contract_path(type(obj))
    target: Any = obj
    for part in path.split("__"):
        target = getattr(target, part)
    return target


def role_in(user: Any, contract: Contract) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    membership = (
        Membership.objects.current().filter(user_id=user.pk, contract_id=contract.pk).only("role").first()
    )
    return membership.role if membership else None


def can(user: Any, action: str, obj: models.Model) -> bool:
    role = role_in(user, contract_of(obj))
    return role is not None and role in ACTIONS.get(action, frozenset())


def require(user: Any, action: str, obj: models.Model, *, clause: str | None = None) -> str:
    """Raise unless *user* may perform *action* on *obj*; return the user's role in its contract."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}")
    contract = contract_of(obj)
    role = role_in(user, contract)
    if role is None:
        raise NotFound(_("見つかりません。"))
    if role not in ACTIONS[action]:
        raise Forbidden(
            _("この操作（{action}）を行う権限がありません。").format(action=action),
            code="forbidden",
            clause=clause,
        )
    if action in INFORMATION_ACTIONS:
        from sekisho.people.gates import require_cleared

        require_cleared(user, contract, role, action, obj)
    return role


def get_visible(user: Any, model: type[M], **lookup: Any) -> M:
    """One object the user may read, or NotFound (also when it exists in another contract)."""
    try:
        return visible(user, model).get(**lookup)
    except (model.DoesNotExist, ValueError, TypeError) as exc:  # type: ignore[attr-defined]
        raise NotFound(_("見つかりません。")) from exc


def require_system_admin(user: Any) -> None:
    """Deployment administration (organisations, users, new contracts) is for superusers only.

    System administrators set contracts up but are not members of them, so they see no information."""
    if not (user is not None and getattr(user, "is_authenticated", False) and user.is_superuser):
        raise Forbidden(_("システム管理者のみが行える操作です。"))
