"""Importing ledger rows from a spreadsheet (.xlsx or .csv): all rows or none (R1.1).

Every row is checked by the same rules as a single registration (``services.check_asset_data``, the copy
permits of R2.3 / P7, the purpose of P5), every problem is reported with the row number Excel shows and the
column's header, and only a file without any problem is written — in one transaction, under the contract's row
lock, with one audit event that carries the file's SHA-256.

Choices made here:

- The header row is the export's (``xlsx_export.HEADERS``), so an exported ledger re-imports. It is looked for
  in the first rows (the export has a title row above it); unknown columns are ignored.
- ``台帳番号`` is not kept: the contract gives new numbers. It only names a row, so that ``元の情報（台帳番号）``
  can point at another row of the same file. A reference matches a row of the file first, then an asset of the
  contract. Rows are numbered parents first (originals, then their copies), in file order within each
  generation, so that a child is always inserted after its parent.
- ``管理者`` is a contractor-side member of the contract, by user name, or by name (表示名) when exactly one
  member has it — the export writes the name.
- ``状態`` may be empty or 保管中: importing registers what is held now. ``要配慮`` ○ adds the category
  要配慮個人情報. ``根拠承諾番号`` names the copy permit to use; empty picks one as a registration does.
- The upload is read into memory (capped by ``SEKISHO_IMPORT_MAX_BYTES``), never written to disk by this module.
  An .xlsx is inspected as a zip before openpyxl sees it (parts, sizes, compression ratio), so a zip bomb or a
  file that is not a workbook is refused with a message instead of exhausting the server.
"""

from __future__ import annotations

import hashlib
import io
import time
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from sekisho.core import policy
from sekisho.core.errors import Invalid
from sekisho.core.models import Contract
from sekisho.people.gates import require_personal_info_access

from ..services import require_open_for_registration
from .checking import ImportResult, Plan
from .reading import HEADERS, FileInvalid, RowError, parse

__all__ = ["ImportResult", "RowError", "import_assets", "max_bytes"]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
MAX_REPORTED_ERRORS = 1000  # a file of 100k bad rows must not become a 50 MB error response


def import_assets(contract: Contract, *, acting_user: Any, filename: str, stream: IO[bytes]) -> ImportResult:
    """Register every row of an .xlsx or .csv ledger file, or none (R1.1, R2.3 / P7, P5).

    Raises ``Invalid`` with code ``import_rejected`` and ``row_errors`` (every problem, by row and column) when
    any row is wrong, or code ``import_file_invalid`` when the file itself cannot be read. Nothing is written
    in either case.
    """
    policy.require(acting_user, "asset.import", contract)
    started = time.perf_counter()
    data = _read_capped(stream)
    digest = hashlib.sha256(data).hexdigest()
    # Reading the file (the slow part) happens before the transaction, so the contract is not held
    # locked while a 100k-row workbook is parsed.
    try:
        rows, errors = parse(filename, data)
    except FileInvalid as exc:
        raise _rejected(str(exc), [], code="import_file_invalid") from exc
    del data
    seconds = {"read": time.perf_counter() - started}
    with transaction.atomic():
        contract = Contract.objects.select_for_update().get(pk=contract.pk)
        policy.require(acting_user, "asset.import", contract)
        if any(row.has_personal_info for row in rows):
            require_personal_info_access(acting_user, contract)  # P8, as a single registration checks it
        require_open_for_registration(contract)
        plan = Plan(contract, rows, errors)
        plan.check()
        if plan.errors:
            raise _rejected(None, plan.errors)
        seconds["check"] = time.perf_counter() - started - seconds["read"]
        result = plan.write(acting_user, filename=filename, sha256=digest)
    seconds["write"] = time.perf_counter() - started - seconds["read"] - seconds["check"]
    result.seconds.update(seconds)
    return result


def _rejected(message: str | None, errors: list[RowError], code: str = "import_rejected") -> Invalid:
    errors = sorted(
        errors, key=lambda e: (e.row or 0, HEADERS.index(e.column) if e.column in HEADERS else -1)
    )
    if message is None:
        first = errors[0]
        where = _("{row}行目「{column}」").format(row=first.row, column=first.column or "")
        message = _(
            "ファイルに{count}件の誤りがあるため、1件も取り込みませんでした。最初の誤り: {where} {message}"
        ).format(count=len(errors), where=where, message=first.message)
    exc = Invalid(message, code=code)
    shown = errors[:MAX_REPORTED_ERRORS]
    exc.row_errors = errors  # type: ignore[attr-defined]
    exc.extra = {  # type: ignore[attr-defined]
        "rows": [e.as_dict() for e in shown],
        "total": len(errors),
        "truncated": len(errors) > len(shown),
    }
    return exc


def max_bytes() -> int:
    return int(getattr(settings, "SEKISHO_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def _read_capped(stream: IO[bytes]) -> bytes:
    limit = max_bytes()
    size = getattr(stream, "size", None)
    too_large = _("ファイルが大きすぎます（上限 {mb} MB）。分割して取り込んでください。").format(
        mb=limit // (1024 * 1024)
    )
    if isinstance(size, int) and size > limit:
        raise _rejected(too_large, [], code="import_file_invalid")
    buffer = io.BytesIO()
    while True:
        chunk = stream.read(min(1 << 20, limit + 1 - buffer.tell()))
        if not chunk:
            break
        if not isinstance(chunk, bytes):
            raise TypeError("import_assets needs a binary stream")
        buffer.write(chunk)
        if buffer.tell() > limit:
            raise _rejected(too_large, [], code="import_file_invalid")
    data = buffer.getvalue()
    if not data:
        raise _rejected(_("ファイルが空です。"), [], code="import_file_invalid")
    return data
