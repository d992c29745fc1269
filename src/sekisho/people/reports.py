"""The roster (社員等名簿) and the training status (研修受講状況) as Excel workbooks, written in openpyxl's
write-only mode. Headers are Japanese and never translated: they are what the orderer files."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from sekisho.audit.services import record
from sekisho.core import policy
from sekisho.core.models import Contract
from sekisho.core.wareki import to_wareki

from . import selectors
from .models import AckMethod, LeavingKind, StaffCategory

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_WRAP = Alignment(vertical="top", wrap_text=True)

ROSTER_COLUMNS = (
    ("No.", 5),
    ("氏名", 16),
    ("ふりがな", 18),
    ("所属組織", 30),
    ("区分", 14),
    ("所属部署", 16),
    ("役職", 12),
    ("連絡先", 16),
    ("利用者ID", 14),
    ("従事開始日", 16),
    ("離任・退職日時", 20),
    ("離任の区分", 18),
    ("退職後の義務の確認", 24),
)
TRAINING_COLUMNS = (
    ("氏名", 16),
    ("所属組織", 30),
    ("区分", 14),
    ("役割", 14),
    ("研修", 40),
    ("現行の版", 9),
    ("状態", 12),
    ("確認した版", 10),
    ("確認日時", 20),
    ("有効期限", 20),
    ("確認方法", 24),
    ("内容のハッシュ（SHA-256）", 30),
)


def _text(value: Any) -> Any:
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _when(moment: Any) -> str:
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    return f"{to_wareki(local.date())} {local:%H:%M}"


def _sheet(wb: Workbook, title: str, heading: str, columns: Iterable[tuple[str, int]]) -> WriteOnlyWorksheet:
    ws: WriteOnlyWorksheet = wb.create_sheet(title)
    columns = list(columns)
    for n, (_header, width) in enumerate(columns, 1):
        ws.column_dimensions[get_column_letter(n)].width = width
    ws.freeze_panes = "A3"
    title_cell = WriteOnlyCell(ws, value=heading)
    title_cell.font = Font(bold=True, size=13)
    ws.append([title_cell])
    header = []
    for name, _width in columns:
        cell = WriteOnlyCell(ws, value=name)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        header.append(cell)
    ws.append(header)
    return ws


def _row(ws: WriteOnlyWorksheet, values: Iterable[Any]) -> None:
    cells = []
    for value in values:
        cell = WriteOnlyCell(ws, value=_text(value))
        cell.alignment = _WRAP
        cells.append(cell)
    ws.append(cells)


def _save(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def roster_xlsx(contract: Contract) -> bytes:
    """社員等名簿: everyone who works or worked on the contract, leavers included (R2.4.1, R2.4.2)."""
    wb = Workbook(write_only=True)
    ws = _sheet(wb, "社員等名簿", f"社員等名簿　{contract.number}　{contract.title}", ROSTER_COLUMNS)
    categories = dict(StaffCategory.choices)
    kinds = dict(LeavingKind.choices)
    for n, e in enumerate(selectors.roster(contract).iterator(chunk_size=500), 1):
        _row(
            ws,
            (
                n,
                e.name,
                e.name_kana,
                e.organisation.name,
                str(categories.get(e.category, e.category)),
                e.department,
                e.position,
                e.contact,
                e.user.username if e.user else "",
                to_wareki(e.started_on),
                _when(e.left_at),
                str(kinds.get(e.leaving_kind, "")) if e.leaving_kind else "",
                f"{e.exit_ack_name}（{_when(e.exit_ack_at)}）" if e.exit_ack_at else "",
            ),
        )
    return _save(wb)


def training_xlsx(contract: Contract) -> bytes:
    """研修受講状況: each person's state for each programme, with the version and hash acknowledged."""
    wb = Workbook(write_only=True)
    ws = _sheet(wb, "研修受講状況", f"研修受講状況　{contract.number}　{contract.title}", TRAINING_COLUMNS)
    categories = dict(StaffCategory.choices)
    methods = dict(AckMethod.choices)
    _programmes, people = selectors.training_matrix(contract)
    for person in people:
        e = person.entry
        for status in person.statuses:
            ack = status.acknowledgement
            programme = status.programme
            _row(
                ws,
                (
                    e.name,
                    e.organisation.name,
                    str(categories.get(e.category, e.category)),
                    person.role_label,
                    programme.title,
                    programme.current_version.number if programme.current_version else "",
                    status.label,
                    ack.version.number if ack else "",
                    _when(ack.acknowledged_at) if ack else "",
                    _when(ack.expires_at) if ack and ack.expires_at else ("期限なし" if ack else ""),
                    str(methods.get(ack.method, "")) if ack else "",
                    ack.content_sha256 if ack else "",
                ),
            )
    return _save(wb)


@transaction.atomic
def export(contract: Contract, *, acting_user: Any, kind: str) -> bytes:
    """Export the roster or the training status. The names of the contract's people leave the system in the
    file, so the export is recorded with the file's hash."""
    policy.require(acting_user, "people.report", contract)
    body = roster_xlsx(contract) if kind == "roster" else training_xlsx(contract)
    record(
        actor=acting_user,
        action="people.export",
        contract=contract,
        obj=contract,
        summary={"kind": kind, "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)},
    )
    return body
