"""The ledger as a file: the 情報管理台帳 as .xlsx, and importing rows from .xlsx / .csv (all or none)."""

from __future__ import annotations

import re
import tempfile
from urllib.parse import quote

from django.http import FileResponse, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.files import UploadedFile

from sekisho.core.errors import Invalid
from sekisho.ledger import importer, selectors, xlsx_export
from sekisho.ledger.uploads import upload_in_memory

from .ledger import LedgerQuery, contract_for
from .schemas import ErrorOut

router = Router(tags=["ledger"])


class LedgerXlsxQuery(LedgerQuery):
    wareki: bool = False


class ImportOut(Schema):
    count: int
    first_ref: str
    last_ref: str


class RowErrorOut(Schema):
    row: int | None
    column: str | None
    message: str
    clause: str | None


class ImportErrorOut(ErrorOut):
    rows: list[RowErrorOut] = []
    total: int = 0
    truncated: bool = False


XLSX_RESPONSE = {
    "responses": {
        200: {
            "description": "情報管理台帳（.xlsx）",
            "content": {xlsx_export.XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


def attachment(filename: str, fallback: str) -> str:
    """Content-Disposition with the Japanese name for browsers that read RFC 5987/6266 ``filename*``, and an
    ASCII name for the rest."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", fallback)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/{contract_id}/ledger.xlsx",
    response={403: ErrorOut, 404: ErrorOut},
    summary="情報管理台帳（Excel）",
    openapi_extra=XLSX_RESPONSE,
)
def export_ledger_xlsx(request: HttpRequest, contract_id: int, query: Query[LedgerXlsxQuery]) -> FileResponse:
    contract = contract_for(request, contract_id, "asset.export")
    params = query.dict()
    wareki = params.pop("wareki")
    filters = selectors.LedgerFilters(**params)
    # The workbook is metadata of the ledger, not the information itself: kept in memory up to 32 MiB
    # (a 100k-row ledger is ~10 MiB), beyond that in a temporary file deleted when the response closes.
    buffer = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115 - the response closes it
    try:
        xlsx_export.export_ledger(
            contract,
            acting_user=request.user,
            out=buffer,
            wareki=wareki,
            filters=filters if filters != selectors.LedgerFilters() else None,
        )
    except BaseException:
        buffer.close()
        raise
    buffer.seek(0)
    response = FileResponse(buffer, content_type=xlsx_export.XLSX_CONTENT_TYPE)
    day = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = attachment(
        f"情報管理台帳_{contract.number}_{day}.xlsx", f"ledger_{contract.number}_{day}.xlsx"
    )
    return response


@router.post(
    "/{contract_id}/assets/import",
    response={201: ImportOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ImportErrorOut},
    summary="台帳の一括取込み（.xlsx / .csv、全件登録か0件）",
)
@decorate_view(upload_in_memory)
def import_ledger_file(
    request: HttpRequest, contract_id: int, file: File[UploadedFile | None] = None
) -> Status[dict[str, object]]:
    # Optional in the signature so that the access policy answers first: an outsider gets 404, not a
    # complaint about the body.
    contract = contract_for(request, contract_id, "asset.import")
    if file is None:
        raise Invalid(_("取り込むファイルを file として送ってください。"), code="import_file_invalid")
    result = importer.import_assets(contract, acting_user=request.user, filename=file.name or "", stream=file)
    return Status(201, {"count": result.count, "first_ref": result.first_ref, "last_ref": result.last_ref})
