"""Checking parsed rows against the contract (custodians, parents, lineage, copy permits) in a fixed number of
queries, and writing them: parents before children, in batches, with one audit event for the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from sekisho.audit.services import record
from sekisho.core.errors import Forbidden
from sekisho.core.models import CONTRACTOR_ROLES, Contract, Membership, User
from sekisho.permits.models import Permit

from ..models import Asset, AssetState
from ..services import (
    AssetData,
    CopyPermits,
    FieldError,
    build_asset,
    check_asset_data,
    in_batches,
    lineage_root,
    misplaced_permit,
    next_refs,
    required_copy_clause,
)
from .reading import (
    CUSTODIAN,
    FIELD_COLUMN,
    PARENT,
    PERMIT,
    REF,
    ParsedRow,
    RowError,
    norm,
)

BATCH = 2000  # rows per INSERT batch (bulk_create splits further where the database needs it)


@dataclass(frozen=True)
class ImportResult:
    count: int
    first_ref: str
    last_ref: str
    sha256: str
    seconds: dict[str, float] = field(default_factory=dict, compare=False)  # read / check / write


@dataclass
class Plan:
    contract: Contract
    rows: list[ParsedRow]
    errors: list[RowError]
    members_by_name: dict[str, list[User]] = field(default_factory=dict)
    members_by_username: dict[str, User] = field(default_factory=dict)
    permits: dict[int, Permit] = field(default_factory=dict)
    copy_permits: CopyPermits | None = None
    taken: dict[int, Permit] = field(default_factory=dict)  # row index -> permit the copy is made under

    def error(self, row: ParsedRow, header: str | None, message: str, clause: str | None = None) -> None:
        self.errors.append(RowError(row.row, header, message, clause))

    def check(self) -> None:
        """Resolve custodians, permits and parents in a fixed number of queries, then check each row."""
        self._load_members()
        self._load_permits()
        self._link_parents()
        custodian_ids = {u.pk for u in self.members_by_username.values()}
        transients = self._transient_parents()
        needing_permit: list[tuple[int, AssetData, str]] = []
        for index, row in enumerate(self.rows):
            data = self._data(row, transients)
            for problem in check_asset_data(self.contract, data, custodian_ids=custodian_ids):
                self._field_error(row, problem)
            # With an unknown parent the row's permit cannot be judged; the parent's error says enough.
            permit_given = row.permit_id is not None and not {PERMIT, PARENT} & row.bad
            misplaced = misplaced_permit(data, permit_given=permit_given)
            if misplaced is not None:
                self._field_error(row, misplaced)
            clause = required_copy_clause(data)
            if clause is None or misplaced is not None:
                continue
            if row.parent_index is not None:
                self.error(
                    row,
                    PARENT,
                    _(
                        "同じファイルで登録する「{title}」の複写・電子化には発注者の承諾が必要です。"
                        "元の情報を先に登録し、承諾を受けてから登録してください。"
                    ).format(title=self.rows[row.parent_index].title),
                    clause,
                )
            else:
                needing_permit.append((index, data, clause))
        self._take_permits(needing_permit)

    def _field_error(self, row: ParsedRow, problem: FieldError) -> None:
        header = FIELD_COLUMN.get(problem.field)
        if header is not None and header in row.bad:
            return  # the cell itself was unreadable; that message says it already
        self.error(row, header, problem.message, problem.clause)

    def _load_members(self) -> None:
        memberships = (
            Membership.objects.current()
            .filter(contract=self.contract, role__in=CONTRACTOR_ROLES)
            .select_related("user")
        )
        for membership in memberships:
            user = membership.user
            self.members_by_username[user.username] = user
            if user.display_name:
                self.members_by_name.setdefault(norm(user.display_name), []).append(user)
        for row in self.rows:
            if row.custodian and self._custodian(row.custodian) is None and CUSTODIAN not in row.bad:
                row.bad = row.bad | {CUSTODIAN}
                if len(self.members_by_name.get(row.custodian, ())) > 1:
                    message = _("「{name}」という名前のメンバーが複数います。ユーザー名で指定してください。")
                else:
                    message = _(
                        "管理者「{name}」はこの契約の受注者側メンバーにいません（ユーザー名か氏名で指定してください）。"
                    )
                self.error(row, CUSTODIAN, message.format(name=row.custodian))

    def _custodian(self, text: str) -> User | None:
        user = self.members_by_username.get(text)
        if user is not None:
            return user
        named = self.members_by_name.get(text, [])
        return named[0] if len(named) == 1 else None

    def _load_permits(self) -> None:
        wanted = sorted({r.permit_id for r in self.rows if r.permit_id is not None})
        for batch in in_batches(wanted, 500):
            self.permits.update(
                (p.pk, p) for p in Permit.objects.filter(contract=self.contract, pk__in=batch)
            )
        for row in self.rows:
            if row.permit_id is not None and row.permit_id not in self.permits and PERMIT not in row.bad:
                row.bad = row.bad | {PERMIT}
                self.error(
                    row, PERMIT, _("承諾番号「{id}」はこの契約の承諾にありません。").format(id=row.permit_id)
                )

    def _link_parents(self) -> None:
        """Point each row at its parent (a row of the file or an asset of the contract) and give it its
        generation; report unknown parents, duplicate keys and cycles."""
        by_key: dict[str, int] = {}
        for index, row in enumerate(self.rows):
            if not row.key:
                continue
            if row.key in by_key:
                self.error(
                    row,
                    REF,
                    _("台帳番号「{ref}」がこのファイルの{row}行目と重複しています。").format(
                        ref=row.key, row=self.rows[by_key[row.key]].row
                    ),
                )
            else:
                by_key[row.key] = index
        outside = sorted({r.parent_key for r in self.rows if r.parent_key and r.parent_key not in by_key})
        existing: dict[str, Asset] = {}
        for batch in in_batches(outside, 500):
            existing.update(
                (a.ref, a)
                for a in Asset.objects.filter(contract=self.contract, ref__in=batch).select_related("root")
            )
        for row in self.rows:
            if not row.parent_key:
                continue
            if row.parent_key in by_key:
                row.parent_index = by_key[row.parent_key]
            elif row.parent_key in existing:
                row.parent_asset = existing[row.parent_key]
            else:
                row.bad = row.bad | {PARENT}
                self.error(
                    row,
                    PARENT,
                    _("元の情報「{ref}」がこのファイルにもこの契約の台帳にもありません。").format(
                        ref=row.parent_key
                    ),
                )
        self._generations()

    def _generations(self) -> None:
        """Generation of each row within the file (0: its parent is not in the file). Each row has at most one
        parent in the file, so following parents either ends or comes round in a circle: a circle is an error
        naming its rows, and so is every row below one."""
        broken = -2  # in or below a circle; -1 stands for "no parent in the file"
        depth: list[int | None] = [None] * len(self.rows)
        for start in range(len(self.rows)):
            path: list[int] = []
            on_path: dict[int, int] = {}
            node: int | None = start
            while node is not None and depth[node] is None and node not in on_path:
                on_path[node] = len(path)
                path.append(node)
                node = self.rows[node].parent_index
            if node is not None and node in on_path:
                cycle = path[on_path[node] :]
                numbers = [self.rows[i].row for i in cycle]
                ring = " → ".join(str(n) for n in [*numbers, numbers[0]])
                for i in cycle:
                    depth[i] = broken
                    self._parent_error(
                        self.rows[i], _("元の情報の参照が循環しています（{ring}行目）。").format(ring=ring)
                    )
                path = path[: on_path[node]]
                base = broken
            elif node is None:
                base = -1
            else:
                base = depth[node] or 0  # known by now: >= 0, or broken
            for i in reversed(path):
                if base == broken:
                    depth[i] = broken
                    parent_row = self.rows[self.rows[i].parent_index or 0].row
                    self._parent_error(
                        self.rows[i],
                        _("元の情報（{row}行目）の系譜が循環しているため登録できません。").format(
                            row=parent_row
                        ),
                    )
                else:
                    base += 1
                    depth[i] = base
        for row, d in zip(self.rows, depth, strict=True):
            row.depth = max(d or 0, 0)

    def _parent_error(self, row: ParsedRow, message: str) -> None:
        row.bad = row.bad | {PARENT}
        self.error(row, PARENT, message)

    def _transient_parents(self) -> dict[int, Asset]:
        """Unsaved stand-ins for rows that other rows name as parent, carrying what the lineage rules read."""
        referenced = {r.parent_index for r in self.rows if r.parent_index is not None}
        transients: dict[int, Asset] = {}
        order = sorted(referenced, key=lambda i: self.rows[i].depth)
        for index in order:
            row = self.rows[index]
            parent: Asset | None = row.parent_asset
            if row.parent_index is not None:
                parent = transients.get(row.parent_index)
            transients[index] = Asset(
                contract_id=self.contract.pk,
                title=row.title,
                medium=row.medium,
                origin=row.origin,
                has_personal_info=row.has_personal_info,
                state=AssetState.HELD,
                root=lineage_root(parent) if parent is not None else None,
            )
        return transients

    def _data(self, row: ParsedRow, transients: dict[int, Asset] | None = None) -> AssetData:
        parent = row.parent_asset
        if row.parent_index is not None and transients is not None:
            parent = transients.get(row.parent_index)
        return AssetData(
            title=row.title,
            medium=row.medium,
            origin=row.origin,
            received_on=row.received_on or self.contract.period_start,  # a missing date is reported already
            custodian=self._custodian(row.custodian),
            location_kind=row.location_kind,
            description=row.description,
            parent=parent,
            location=row.location,
            quantity=row.quantity,
            important=row.important,
            confidentiality=row.confidentiality,
            integrity=row.integrity,
            availability=row.availability,
            has_personal_info=row.has_personal_info,
            personal_categories=row.personal_categories,
            personal_count=row.personal_count,
            personal_purpose=row.personal_purpose,
            personal_necessity=row.personal_necessity,
        )

    def _take_permits(self, needing: list[tuple[int, AssetData, str]]) -> None:
        if not needing:
            return
        self.copy_permits = CopyPermits(self.contract, [d.parent for _i, d, _c in needing if d.parent])
        failed_rows = {e.row for e in self.errors}
        for index, data, clause in needing:
            row = self.rows[index]
            if row.row in failed_rows or data.parent is None:
                continue  # a row that is wrong anyway does not use up a copy
            named = self.permits.get(row.permit_id) if row.permit_id is not None else None
            try:
                self.taken[index] = self.copy_permits.take(data.parent, named, clause)
            except Forbidden as exc:
                self.error(row, PERMIT, exc.message, exc.clause)

    def write(self, acting_user: Any, *, filename: str, sha256: str) -> ImportResult:
        """Insert every row, generation by generation, and record one audit event for the file."""
        order = sorted(range(len(self.rows)), key=lambda i: (self.rows[i].depth, self.rows[i].row))
        refs = next_refs(self.contract, len(order))
        pk_of: dict[int, int] = {}
        root_of: dict[int, int | None] = {}
        position = 0
        while position < len(order):
            depth = self.rows[order[position]].depth
            batch: list[tuple[int, Asset]] = []
            while position < len(order) and self.rows[order[position]].depth == depth and len(batch) < BATCH:
                index = order[position]
                row = self.rows[index]
                asset = build_asset(
                    self.contract,
                    self._data(row),
                    ref=refs[position],
                    acting_user=acting_user,
                    permit=self.taken.get(index),
                )
                if row.parent_index is not None:
                    parent_pk = pk_of[row.parent_index]
                    asset.parent_id = parent_pk
                    asset.root_id = root_of[row.parent_index] or parent_pk
                batch.append((index, asset))
                position += 1
            created = Asset.objects.bulk_create([asset for _index, asset in batch])
            if any(asset.pk is None for asset in created):  # a backend that cannot return ids
                ids = dict(
                    Asset.objects.filter(
                        contract=self.contract, ref__in=[a.ref for a in created]
                    ).values_list("ref", "pk")
                )
                for asset in created:
                    asset.pk = ids[asset.ref]
            for index, asset in batch:
                pk_of[index] = asset.pk
                root_of[index] = asset.root_id
        if self.copy_permits is not None:
            self.copy_permits.mark_exhausted_used(acting_user)
        result = ImportResult(count=len(refs), first_ref=refs[0], last_ref=refs[-1], sha256=sha256)
        record(
            actor=acting_user,
            action="asset.import",
            contract=self.contract,
            summary={
                "count": result.count,
                "first_ref": result.first_ref,
                "last_ref": result.last_ref,
                "sha256": sha256,
                "filename": filename[:200],
                "copies_under_permit": len(self.taken),
            },
        )
        return result
