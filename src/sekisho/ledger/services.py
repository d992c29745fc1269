"""Ledger steps: registering information and its copies. Copying what the orderer lent needs the orderer's
permit (R2.3 for paper, P7 for personal-information material in any medium); personal information needs a
stated purpose and necessity (P5)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.errors import Conflict, Forbidden, Invalid
from sekisho.core.models import CONTRACTOR_ROLES, Contract, Membership, User
from sekisho.people.gates import require_personal_info_access
from sekisho.permits.models import Permit, PermitKind, PermitState

from .models import ASSET_TRANSITIONS, Asset, AssetState, LocationKind, Medium, Origin, PersonalCategory


@dataclass
class AssetData:
    """What a person states about one piece of information (form, API body or spreadsheet row)."""

    title: str
    medium: str
    origin: str
    received_on: dt.date
    custodian: User | None
    location_kind: str
    description: str = ""
    parent: Asset | None = None
    location: str = ""
    quantity: int | None = None
    important: bool = False
    confidentiality: int = 2
    integrity: int = 1
    availability: int = 1
    has_personal_info: bool = False
    personal_categories: list[str] = field(default_factory=list)
    personal_count: int | None = None
    personal_purpose: str = ""
    personal_necessity: str = ""


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str
    clause: str | None = None
    code: str | None = None


def check_asset_data(
    contract: Contract, data: AssetData, *, custodian_ids: set[int] | None = None
) -> list[FieldError]:
    """Every problem with *data*, not only the first, so a form or an import row can show them all.

    *custodian_ids* (the contract's current contractor-side members) may be passed in by bulk callers so
    that checking a row costs no query.
    """
    errors: list[FieldError] = []
    err = errors.append
    if not data.title.strip():
        err(FieldError("title", _("名称を入力してください。")))
    elif len(data.title) > 300:
        err(FieldError("title", _("名称は300文字以内にしてください。")))
    if data.medium not in Medium.values:
        err(FieldError("medium", _("媒体は「紙」か「電子」を指定してください。")))
    if data.origin not in Origin.values:
        err(FieldError("origin", _("由来が正しくありません。")))
    if data.location_kind not in LocationKind.values:
        err(FieldError("location_kind", _("保管場所の種別が正しくありません。")))
    if len(data.location) > 200:
        err(FieldError("location", _("保管場所は200文字以内にしてください。")))
    if not isinstance(data.received_on, dt.date):
        err(FieldError("received_on", _("受領・作成日を日付で入力してください。")))
    elif not contract.period_start <= data.received_on <= contract.period_end:
        err(
            FieldError(
                "received_on",
                _("受領・作成日は履行期間（{start}〜{end}）内の日付にしてください。").format(
                    start=contract.period_start.isoformat(), end=contract.period_end.isoformat()
                ),
            )
        )
    # Lineage: an original has no parent; a copy always has one; a derivative may.
    if data.origin == Origin.PROVIDED and data.parent is not None:
        err(FieldError("parent", _("発注者から受領した原本には元の情報を指定できません。")))
    if data.origin == Origin.COPY and data.parent is None:
        err(FieldError("parent", _("複写・電子化した情報には元の情報を指定してください。"), "R2.5"))
    if data.parent is not None:
        if data.parent.contract_id != contract.pk:
            err(FieldError("parent", _("元の情報が見つかりません。")))
        elif data.parent.state not in (AssetState.HELD, AssetState.RETAINED):
            err(FieldError("parent", _("返却・廃棄済みの情報からは複写・作成できません。")))
    # Custody: a contractor-side member of this contract.
    if data.custodian is None:
        err(FieldError("custodian", _("管理者を指定してください。")))
    else:
        if custodian_ids is None:
            custodian_ids = contractor_member_ids(contract)
        if data.custodian.pk not in custodian_ids:
            err(FieldError("custodian", _("管理者はこの契約の受注者側メンバーから指定してください。")))
    # Where it is kept must fit what it is.
    if data.medium == Medium.PAPER:
        if data.quantity is None or data.quantity < 1:
            err(FieldError("quantity", _("紙の情報は数量（1以上）を入力してください。")))
        if data.location_kind != LocationKind.CABINET:
            err(FieldError("location_kind", _("紙の情報の保管場所は書庫・保管室にしてください。")))
    elif data.medium == Medium.ELECTRONIC:
        if data.quantity is not None:
            err(FieldError("quantity", _("電子の情報に数量は入力しません。")))
        if data.location_kind == LocationKind.CABINET:
            err(FieldError("location_kind", _("電子の情報は保管庫か承認済み端末に保管してください。")))
        elif data.important and data.location_kind != LocationKind.VAULT:
            err(
                FieldError(
                    "location_kind",
                    _("重要情報の電子データは暗号化された保管庫以外に保管できません。"),
                    "R2.7ウ",
                )
            )
    if not 1 <= data.confidentiality <= 3:
        err(FieldError("confidentiality", _("機密性は1〜3で指定してください。")))
    if not 1 <= data.integrity <= 2:
        err(FieldError("integrity", _("完全性は1〜2で指定してください。")))
    if not 1 <= data.availability <= 2:
        err(FieldError("availability", _("可用性は1〜2で指定してください。")))
    errors.extend(_check_personal(data))
    return errors


def _check_personal(data: AssetData) -> list[FieldError]:
    errors: list[FieldError] = []
    if not data.has_personal_info:
        if (
            data.personal_categories
            or data.personal_count
            or data.personal_purpose
            or data.personal_necessity
        ):
            errors.append(
                FieldError(
                    "has_personal_info", _("個人情報の項目を入力する場合は「個人情報を含む」にしてください。")
                )
            )
        return errors
    unknown = [c for c in data.personal_categories if c not in PersonalCategory.values]
    if not data.personal_categories:
        errors.append(FieldError("personal_categories", _("個人情報の項目を1つ以上選んでください。"), "P1"))
    elif unknown:
        errors.append(
            FieldError(
                "personal_categories",
                _("個人情報の項目が正しくありません: {items}").format(items=", ".join(unknown)),
            )
        )
    if data.personal_count is None or data.personal_count < 1:
        errors.append(FieldError("personal_count", _("本人の数（1以上）を入力してください。"), "P1"))
    if not data.personal_purpose.strip():
        errors.append(
            FieldError("personal_purpose", _("個人情報の収集・利用の目的を入力してください。"), "P5")
        )
    if not data.personal_necessity.strip():
        errors.append(
            FieldError("personal_necessity", _("個人情報が業務に必要な理由を入力してください。"), "P5")
        )
    return errors


def contractor_member_ids(contract: Contract) -> set[int]:
    return set(
        Membership.objects.current()
        .filter(contract=contract, role__in=CONTRACTOR_ROLES)
        .values_list("user_id", flat=True)
    )


def raise_first(errors: list[FieldError]) -> None:
    """Turn check results into the error contract: the first message, with the clause if it has one."""
    if errors:
        first = next((e for e in errors if e.clause), errors[0])
        exc = Invalid(first.message, code="invalid_asset", clause=first.clause)
        exc.field_errors = errors  # type: ignore[attr-defined]
        raise exc


def lineage_root(asset: Asset) -> Asset:
    return asset.root if asset.root is not None else asset


def copy_clause(parent: Asset) -> str | None:
    """The clause that makes copying *parent* need the orderer's permit, or None if it needs none.

    R2.3: paper the orderer provided (and paper copies of it). P7: material the orderer lent that holds
    personal information, in any medium.
    """
    root = lineage_root(parent)
    if root.origin != Origin.PROVIDED:
        return None
    if parent.medium == Medium.PAPER:
        return "R2.3"
    if parent.has_personal_info:
        return "P7"
    return None


def next_refs(contract: Contract, count: int) -> list[str]:
    """Allocate *count* ledger numbers. Callers hold the contract row lock, so numbers never collide."""
    last = Asset.objects.filter(contract=contract).aggregate(m=Max("id"))["m"]
    start = 1
    if last is not None:
        last_ref = Asset.objects.filter(pk=last).values_list("ref", flat=True).first() or "A-0"
        start = int(last_ref.split("-")[1]) + 1
    return [f"A-{n:06d}" for n in range(start, start + count)]


def build_asset(
    contract: Contract, data: AssetData, *, ref: str, acting_user: Any, permit: Permit | None = None
) -> Asset:
    parent = data.parent
    categories = sorted(set(data.personal_categories))
    return Asset(
        contract=contract,
        ref=ref,
        title=data.title.strip(),
        description=data.description,
        medium=data.medium,
        origin=data.origin,
        parent=parent,
        root_id=(parent.root_id or parent.pk) if parent is not None else None,
        received_on=data.received_on,
        custodian=data.custodian,
        location_kind=data.location_kind,
        location=data.location,
        quantity=data.quantity,
        important=data.important,
        confidentiality=data.confidentiality,
        integrity=data.integrity,
        availability=data.availability,
        has_personal_info=data.has_personal_info,
        personal_categories=categories,
        personal_sensitive=PersonalCategory.SENSITIVE in categories,
        personal_count=data.personal_count,
        personal_purpose=data.personal_purpose,
        personal_necessity=data.personal_necessity,
        permit=permit,
        created_by=acting_user,
    )


def asset_summary(asset: Asset) -> dict[str, Any]:
    return {
        "ref": asset.ref,
        "title": asset.title,
        "medium": asset.medium,
        "origin": asset.origin,
        "parent": asset.parent.ref if asset.parent_id and asset.parent else None,
        "important": asset.important,
        "classification": [asset.confidentiality, asset.integrity, asset.availability],
        "personal": asset.has_personal_info,
        "permit": asset.permit_id,
    }


def require_open_for_registration(contract: Contract) -> None:
    if contract.status not in (Contract.Status.DRAFT, Contract.Status.ACTIVE):
        raise Conflict(
            _("この契約は完了手続中または完了のため、台帳に登録できません。"), code="contract_not_active"
        )


def required_copy_clause(data: AssetData) -> str | None:
    """The clause under which registering *data* needs the orderer's copy permit, or None if it needs none."""
    if data.origin == Origin.COPY and data.parent is not None:
        return copy_clause(data.parent)
    return None


def misplaced_permit(data: AssetData, *, permit_given: bool) -> FieldError | None:
    """A permit named where none applies: on something that is not a copy, or on a copy that needs none."""
    if not permit_given:
        return None
    if data.origin != Origin.COPY or data.parent is None:
        return FieldError(
            "permit", _("承諾を指定できるのは複写・電子化の登録だけです。"), code="permit_not_applicable"
        )
    if copy_clause(data.parent) is None:
        return FieldError(
            "permit",
            _("この情報の複写には承諾は不要です。承諾を指定せずに登録してください。"),
            code="permit_not_needed",
        )
    return None


@transaction.atomic
def register_asset(
    contract: Contract, *, acting_user: Any, data: AssetData, permit: Permit | None = None
) -> Asset:
    """Enter a piece of information into the contract's ledger (R1.1).

    A copy or scan of what the orderer lent needs an approved, unexpired copy permit naming the parent, and
    the permit's number of copies cannot be exceeded (R2.3 / P7). Personal information needs its collection
    purpose and necessity (P5).
    """
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    policy.require(acting_user, "asset.register", contract)
    if data.has_personal_info:
        require_personal_info_access(acting_user, contract)  # P8: subcontractor staff need the consent
    require_open_for_registration(contract)
    raise_first(check_asset_data(contract, data))
    misplaced = misplaced_permit(data, permit_given=permit is not None)
    if misplaced is not None:
        raise Invalid(misplaced.message, code=misplaced.code)
    used_permit = None
    copy_permits = None
    clause = required_copy_clause(data)
    if clause is not None and data.parent is not None:
        copy_permits = CopyPermits(contract, [data.parent])
        used_permit = copy_permits.take(data.parent, permit, clause)
    asset = build_asset(
        contract, data, ref=next_refs(contract, 1)[0], acting_user=acting_user, permit=used_permit
    )
    asset.save()
    record(
        actor=acting_user, action="asset.register", contract=contract, obj=asset, summary=asset_summary(asset)
    )
    if copy_permits is not None:
        copy_permits.mark_exhausted_used(acting_user)
    return asset


T = TypeVar("T")


def in_batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """*items* in slices of *size*: keeps ``IN (...)`` lists under the databases' parameter limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CopyPermits:
    """The copy permits in force for some originals, locked for the caller's transaction, with the copies each
    still allows (R2.3 / P7).

    One instance serves one registration or a whole import: three queries per 500 originals, then ``take``
    for each copy without a query, counting the copies taken so far.
    """

    def __init__(self, contract: Contract, parents: Iterable[Asset]) -> None:
        today = timezone.localdate()
        self._candidates: dict[int, list[Permit]] = defaultdict(list)
        self._left: dict[tuple[int, int], int] = {}
        self._ever_permitted: set[int] = set()
        self._taken: dict[int, Permit] = {}
        through = Permit.assets.through
        parent_ids = sorted({p.pk for p in parents})
        for batch in in_batches(parent_ids, 500):
            pairs = list(
                through.objects.filter(
                    asset_id__in=batch,
                    permit__contract=contract,
                    permit__kind=PermitKind.COPY,
                    permit__state__in=[PermitState.APPROVED, PermitState.USED],
                ).values_list("permit_id", "asset_id")
            )
            self._ever_permitted.update(asset_id for _permit_id, asset_id in pairs)
            in_force = list(
                Permit.objects.select_for_update()
                .filter(
                    pk__in={permit_id for permit_id, _asset_id in pairs},
                    state=PermitState.APPROVED,
                    valid_from__lte=today,
                    valid_until__gte=today,
                )
                .order_by("valid_until", "id")
            )
            made: dict[tuple[int, int], int] = {
                (permit_id, parent_id): n
                for permit_id, parent_id, n in Asset.objects.filter(
                    permit_id__in=[p.pk for p in in_force], parent_id__in=batch
                )
                .order_by()
                .values("permit_id", "parent_id")
                .annotate(n=Count("id"))
                .values_list("permit_id", "parent_id", "n")
            }
            parents_of: dict[int, list[int]] = defaultdict(list)
            for permit_id, asset_id in pairs:
                parents_of[permit_id].append(asset_id)
            for candidate in in_force:  # soonest expiry first, as one would use them by hand
                for asset_id in parents_of[candidate.pk]:
                    self._candidates[asset_id].append(candidate)
                    made_so_far = made.get((candidate.pk, asset_id), 0)
                    self._left[(candidate.pk, asset_id)] = (candidate.copies or 0) - made_so_far

    def take(self, parent: Asset, permit: Permit | None, clause: str) -> Permit:
        """The permit that allows one more copy of *parent* (only *permit*, when one is named), counted as
        used; or a refusal naming *clause*."""
        for candidate in self._candidates.get(parent.pk, ()):
            if permit is not None and candidate.pk != permit.pk:
                continue
            key = (candidate.pk, parent.pk)
            if self._left[key] > 0:
                self._left[key] -= 1
                self._taken[candidate.pk] = candidate
                return candidate
        if permit is not None or parent.pk in self._ever_permitted:
            message = _(
                "「{title}」の複写・電子化は承諾された部数・期間を超えるため登録できません。発注者の承諾を受けてください。"
            )
        else:
            message = _("「{title}」の複写・電子化には発注者の承諾が必要です。先に承諾を申請してください。")
        raise Forbidden(message.format(title=parent.title), code="copy_not_permitted", clause=clause)

    def mark_exhausted_used(self, acting_user: Any) -> None:
        """Once the copies are saved: each permit taken from that has no copy left becomes used."""
        for permit in self._taken.values():
            _mark_copy_permit_used_if_exhausted(permit, acting_user)


def copies_made(permit: Permit, parent: Asset) -> int:
    return Asset.objects.filter(permit=permit, parent=parent).count()


def _mark_copy_permit_used_if_exhausted(permit: Permit, acting_user: Any) -> None:
    # One query for the whole permit, whatever the number of originals it names.
    remaining = (
        permit.assets.annotate(made=Count("children", filter=Q(children__permit=permit)))
        .filter(made__lt=permit.copies or 0)
        .exists()
    )
    if not remaining:
        Permit.objects.filter(pk=permit.pk).update(state=PermitState.USED)
        record(
            actor=acting_user,
            action="permit.used",
            contract=permit.contract,
            obj=permit,
            summary={"kind": permit.kind, "reason": "all copies made"},
        )


@transaction.atomic
def move_asset(asset: Asset, *, acting_user: Any, to_state: str, note: str = "") -> Asset:
    """Move an asset along its lifecycle table. End states (returned, destroyed, retained) belong to
    close-out (R2.5) and are refused here."""
    asset = Asset.objects.select_for_update().get(pk=asset.pk)
    policy.require(acting_user, "asset.update", asset)
    if to_state not in ASSET_TRANSITIONS.get(asset.state, frozenset()):
        raise Conflict(_("台帳情報の状態をこの状態に変更することはできません。"), code="invalid_transition")
    if to_state in (AssetState.RETURNED, AssetState.DESTROYED, AssetState.RETAINED):
        raise Conflict(_("返却・廃棄・保存は完了手続で行います。"), code="close_out_only", clause="R2.5")
    before = asset.state
    asset.state = to_state
    asset.updated_at = timezone.now()
    asset.save(update_fields=["state", "updated_at"])
    record(
        actor=acting_user,
        action="asset.state",
        contract=asset.contract,
        obj=asset,
        summary={"ref": asset.ref, "from": before, "to": to_state, "note": note},
    )
    return asset
