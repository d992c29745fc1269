"""Reading a ledger file into parsed rows: zip and size checks, .xlsx and .csv readers, the header row, and
each cell's value. No database here: the rows are checked against the contract in ``checking``."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import logging
import re
import unicodedata
import zipfile
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from sekisho.core.wareki import WarekiError, looks_like_wareki, parse_wareki

from ..models import Asset, AssetState, LocationKind, Medium, Origin, PersonalCategory
from ..xlsx_export import HEADERS, SHEET_TITLE, labels_of

log = logging.getLogger(__name__)

MAX_ROWS = 200_000  # data rows of one file
EXCEL_LAST_ROW = 1_048_576
MAX_COLUMNS = 64  # columns read; anything further right is ignored
HEADER_SEARCH_ROWS = 10
# Zip-bomb limits for .xlsx: a real 200k-row ledger unpacks to well under these.
MAX_ZIP_ENTRIES = 1000
MAX_UNCOMPRESSED_TOTAL = 512 * 1024 * 1024
MAX_UNCOMPRESSED_PART = 256 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200  # XML of a busy sheet compresses ~10-40x; bombs reach thousands
DB_INT_MAX = 2_147_483_647

REF, TITLE, DESCRIPTION, MEDIUM, ORIGIN, PARENT, RECEIVED, CUSTODIAN = HEADERS[:8]
(LOCATION_KIND, LOCATION, QUANTITY, IMPORTANT, CONF, INTEG, AVAIL, PERSONAL) = HEADERS[8:16]
(CATEGORIES, SENSITIVE, COUNT, PURPOSE, NECESSITY, STATE, PERMIT) = HEADERS[16:]
REQUIRED = (TITLE, MEDIUM, ORIGIN, RECEIVED, CUSTODIAN, LOCATION_KIND)

# The AssetData field each column feeds (for the messages of check_asset_data).
FIELD_COLUMN: dict[str, str] = {
    "title": TITLE,
    "description": DESCRIPTION,
    "medium": MEDIUM,
    "origin": ORIGIN,
    "parent": PARENT,
    "received_on": RECEIVED,
    "custodian": CUSTODIAN,
    "location_kind": LOCATION_KIND,
    "location": LOCATION,
    "quantity": QUANTITY,
    "important": IMPORTANT,
    "confidentiality": CONF,
    "integrity": INTEG,
    "availability": AVAIL,
    "has_personal_info": PERSONAL,
    "personal_categories": CATEGORIES,
    "personal_count": COUNT,
    "personal_purpose": PURPOSE,
    "personal_necessity": NECESSITY,
    "permit": PERMIT,
}
# Other names people (or the model's verbose names) give the same columns.
ALIASES: dict[str, str] = {
    "元の情報": PARENT,
    "元の台帳番号": PARENT,
    "数量（紙）": QUANTITY,
    "個人情報を含む": PERSONAL,
    "要配慮個人情報": SENSITIVE,
    "要配慮個人情報を含む": SENSITIVE,
    "収集・利用の目的": PURPOSE,
    "業務上の必要性": NECESSITY,
    "根拠となる承諾": PERMIT,
    "承諾番号": PERMIT,
}

TRUE_MARKS = frozenset({"○", "〇", "◯", "●", "✓", "✔", "レ", "はい", "有", "あり", "1", "true", "yes", "y"})
FALSE_MARKS = frozenset({"×", "✕", "x", "いいえ", "無", "なし", "0", "false", "no", "n", "-", "ー", "―"})
_CATEGORY_SPLIT = re.compile(r"[、,，;；/／\n]+")
_WESTERN_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00)?)?$"
)
_INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class RowError:
    row: int | None  # as Excel numbers it (1 = the first row of the sheet)
    column: str | None  # the column's header
    message: str
    clause: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message, "clause": self.clause}


Rows = Generator[tuple[int, Sequence[Any]], None, None]  # (row number as Excel shows it, cell values)


class FileInvalid(Exception):
    """The file as a whole cannot be read; becomes ``Invalid(code="import_file_invalid")``."""


# --- reading the table -------------------------------------------------------------------------------------


def parse(filename: str, data: bytes) -> tuple[list[ParsedRow], list[RowError]]:
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if suffix == "xlsx":
        table = _xlsx_rows(data)
    elif suffix in ("csv", "txt"):
        table = _csv_rows(data)
    elif suffix in ("xls", "xlsm", "xlsb", "ods"):
        raise FileInvalid(
            _("この形式（.{suffix}）は取り込めません。Excelで .xlsx か .csv に保存し直してください。").format(
                suffix=suffix
            )
        )
    else:
        raise FileInvalid(_("取り込めるのは .xlsx か .csv のファイルです。"))
    try:
        return RowParser().parse(table)
    finally:
        table.close()  # an unfinished xlsx reader closes its workbook


def _inspect_zip(data: bytes) -> None:
    """Refuse what is not an .xlsx, or would unpack to far more than it is, before any XML is parsed."""
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileInvalid(
            _(
                "古い形式（.xls）かパスワード付きのファイルです。パスワードを外し .xlsx で保存し直してください。"
            )
        )
    not_xlsx = _("Excelファイル（.xlsx）として読み取れません。ファイルが壊れているか、形式が違います。")
    if not data.startswith(b"PK\x03\x04"):
        raise FileInvalid(not_xlsx)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise FileInvalid(not_xlsx) from exc
    names = {info.filename for info in infos}
    if len(infos) > MAX_ZIP_ENTRIES or "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise FileInvalid(not_xlsx)
    bomb = _("展開後のサイズが大きすぎるため、このファイルは取り込めません。")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise FileInvalid(
                _("暗号化されたファイルは取り込めません。パスワードを外して保存し直してください。")
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileInvalid(not_xlsx)
        total += info.file_size
        if info.file_size > MAX_UNCOMPRESSED_PART or total > MAX_UNCOMPRESSED_TOTAL:
            raise FileInvalid(bomb)
        if info.file_size > (1 << 20) and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise FileInvalid(bomb)


def _open_workbook(data: bytes) -> Any:
    """openpyxl's read-only workbook, without its up-front pass over each sheet for the stored size.

    ``load_workbook`` looks for each sheet's ``<dimension>`` and, when there is none (openpyxl's own
    write-only files, such as our export), parses the whole sheet once just to find out — a quarter of the
    time of an import. The size is not needed (and may be wrong): the rows are read as they come.
    """
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    class Sheet(ReadOnlyWorksheet):
        def _get_size(self) -> None:
            pass

    class Reader(ExcelReader):
        def read_worksheets(self) -> None:
            for sheet, rel in self.parser.find_sheets():
                if rel.target in self.valid_files and "chartsheet" not in rel.Type:
                    self.wb._sheets.append(Sheet(self.wb, sheet.name, rel.target, self.shared_strings))

    reader = Reader(io.BytesIO(data), read_only=True, data_only=True)
    reader.read()
    return reader.wb


def _xlsx_rows(data: bytes) -> Rows:
    _inspect_zip(data)
    unreadable = _("Excelファイル（.xlsx）として読み取れません。ファイルが壊れている可能性があります。")
    try:
        workbook = _open_workbook(data)
    except Exception as exc:  # hostile input: any parser failure is "cannot read this file"
        log.info("unreadable xlsx upload: %r", exc)
        raise FileInvalid(unreadable) from exc
    try:
        if not workbook.worksheets:
            raise FileInvalid(unreadable)
        sheet = workbook[SHEET_TITLE] if SHEET_TITLE in workbook.sheetnames else workbook.worksheets[0]
        rows = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
        number = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as exc:
                log.info("unreadable xlsx sheet: %r", exc)
                raise FileInvalid(unreadable) from exc
            number += 1
            if number > EXCEL_LAST_ROW:
                raise FileInvalid(_too_many_rows())
            yield number, values
    finally:
        workbook.close()


def _csv_rows(data: bytes) -> Rows:
    encoding = _csv_encoding(data)
    raw = io.BytesIO(data)
    if data.startswith(codecs.BOM_UTF8):
        raw.seek(len(codecs.BOM_UTF8))
    reader = csv.reader(io.TextIOWrapper(raw, encoding=encoding, newline=""))
    number = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileInvalid(
                _("CSVの{row}行目を読み取れません（{reason}）。").format(row=number + 1, reason=exc)
            ) from exc
        number += 1
        if any("\x00" in value for value in values):  # no database text column can hold it
            raise FileInvalid(_("CSVの{row}行目に読み取れない文字（NUL）があります。").format(row=number))
        yield number, values[:MAX_COLUMNS]


def _csv_encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM) or Shift_JIS (cp932, what Japanese Excel saves as "CSV"): the first that
    decodes the whole file. Decoded in slices and thrown away, so the check holds no second copy."""
    view = memoryview(data)
    for encoding in ("utf-8", "cp932"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for offset in range(0, len(view), 1 << 20):
                decoder.decode(view[offset : offset + (1 << 20)])
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise FileInvalid(_("CSVの文字コードを判別できません。UTF-8 か Shift_JIS で保存してください。"))


def _too_many_rows() -> str:
    return _("行数が多すぎます（上限 {max:,} 行）。分割して取り込んでください。").format(max=MAX_ROWS)


def norm(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def _header_key(value: Any) -> str:
    return re.sub(r"[\s*※]", "", norm(str(value))) if value is not None else ""


_HEADER_LOOKUP: dict[str, str] = {_header_key(h): h for h in HEADERS} | {
    _header_key(alias): h for alias, h in ALIASES.items()
}


# --- parsing cells -----------------------------------------------------------------------------------------


class _CellError(Exception):
    pass


@dataclass(frozen=True)
class _Choices:
    """A column of choices: the stored value, the label, or the label without its bracketed note."""

    table: dict[str, str]
    options: str

    @classmethod
    def of(cls, choices: Any) -> _Choices:
        table: dict[str, str] = {}
        labels = labels_of(choices)
        for value, text in labels.items():
            for key in (value, text, text.split("（")[0]):
                table[norm(key).lower()] = value
        return cls(table, "・".join(f"「{text}」" for text in labels.values()))


_MEDIA, _ORIGINS = _Choices.of(Medium), _Choices.of(Origin)
_LOCATION_KINDS, _STATES = _Choices.of(LocationKind), _Choices.of(AssetState)
_CATEGORIES = _Choices.of(PersonalCategory)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "○" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _choice(value: Any, choices: _Choices, header: str) -> str:
    text = norm(_text(value)).lower()
    if not text:
        return ""
    found = choices.table.get(text)
    if found is None:
        raise _CellError(
            _("「{value}」は{header}として正しくありません（{options}のいずれか）。").format(
                value=_text(value), header=header, options=choices.options
            )
        )
    return found


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise _CellError(_("日付を入力してください。"))
    if isinstance(value, int | float):
        # A date whose cell lost its date format arrives as Excel's day number.
        if 1 <= value < 2958466:
            from openpyxl.utils.datetime import from_excel

            converted = from_excel(value)
            return converted.date() if isinstance(converted, dt.datetime) else converted
        raise _CellError(_("日付として読み取れません（例: 2026/7/1、令和8年7月1日）。"))
    text = norm(str(value))
    if not text:
        return None
    match = _WESTERN_DATE.match(text)
    try:
        if match:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        if looks_like_wareki(text):
            return parse_wareki(text)
    except (ValueError, WarekiError) as exc:
        raise _CellError(_("「{value}」という日付はありません。").format(value=text)) from exc
    raise _CellError(_("日付として読み取れません（例: 2026/7/1、令和8年7月1日）。"))


def _integer(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _CellError(_("整数で入力してください。"))
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise _CellError(_("整数で入力してください。"))
        number = int(value)
    else:
        text = norm(str(value)).replace(",", "")
        if not text:
            return None
        if not _INTEGER.match(text):
            raise _CellError(_("整数で入力してください。"))
        number = int(text)
    if abs(number) > DB_INT_MAX:
        raise _CellError(_("数値が大きすぎます。"))
    return number


def _flag(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = norm(str(value)).lower()
    if not text or text in FALSE_MARKS:
        return False
    if text in TRUE_MARKS:
        return True
    raise _CellError(_("「○」か空欄で入力してください。"))


def _categories(value: Any) -> list[str]:
    items = [norm(item) for item in _CATEGORY_SPLIT.split(_text(value))]
    found: list[str] = []
    unknown: list[str] = []
    for item in filter(None, items):
        category = _CATEGORIES.table.get(item.lower())
        (found if category else unknown).append(category or item)
    if unknown:
        raise _CellError(
            _("個人情報の項目「{items}」は選択肢にありません（{options}）。").format(
                items="、".join(unknown), options=_CATEGORIES.options
            )
        )
    return found


@dataclass(slots=True)
class ParsedRow:
    """One data row, parsed; compact because a file may have 200k of them."""

    row: int
    key: str
    parent_key: str
    custodian: str
    permit_id: int | None
    title: str
    description: str
    medium: str
    origin: str
    received_on: dt.date | None
    location_kind: str
    location: str
    quantity: int | None
    important: bool
    confidentiality: int
    integrity: int
    availability: int
    has_personal_info: bool
    personal_categories: list[str]
    personal_count: int | None
    personal_purpose: str
    personal_necessity: str
    bad: frozenset[str] = frozenset()  # columns that already have an error (no second message for them)
    parent_index: int | None = None
    parent_asset: Asset | None = None
    depth: int = 0


class RowParser:
    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.columns: dict[str, int] = {}

    def parse(self, table: Iterator[tuple[int, Sequence[Any]]]) -> tuple[list[ParsedRow], list[RowError]]:
        rows: list[ParsedRow] = []
        header_row = None
        for number, values in table:
            if header_row is None:
                if self._is_header(number, values):
                    header_row = number
                elif number >= HEADER_SEARCH_ROWS:
                    break
                continue
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise FileInvalid(_too_many_rows())
            rows.append(self._row(number, values))
        if header_row is None:
            raise FileInvalid(
                _(
                    "見出し行（{headers}…）が見つかりません。台帳のエクスポートと同じ見出しを使ってください。"
                ).format(headers="、".join(HEADERS[:5]))
            )
        if not rows and not self.errors:
            raise FileInvalid(_("取り込むデータ行がありません。"))
        return rows, self.errors

    def _is_header(self, number: int, values: Sequence[Any]) -> bool:
        found: dict[str, int] = {}
        duplicates = []
        for index, value in enumerate(values):
            header = _HEADER_LOOKUP.get(_header_key(value))
            if header is None:
                continue
            if header in found:
                duplicates.append(header)
            found[header] = index
        if TITLE not in found or len(found) < 3:
            return False
        self.columns = found
        for header in duplicates:
            self.errors.append(
                RowError(number, header, _("列「{header}」が2つあります。").format(header=header))
            )
        for header in REQUIRED:
            if header not in found:
                self.errors.append(
                    RowError(number, header, _("必須の列「{header}」がありません。").format(header=header))
                )
        return True

    def _row(self, number: int, values: Sequence[Any]) -> ParsedRow:
        bad: set[str] = set()
        columns = self.columns
        width = len(values)

        def cell(header: str) -> Any:
            index = columns.get(header)
            return values[index] if index is not None and index < width else None

        def parsed(header: str, parse: Any, default: Any) -> Any:
            try:
                result = parse(cell(header))
            except _CellError as exc:
                bad.add(header)
                self.errors.append(RowError(number, header, str(exc)))
                return default
            return default if result is None else result

        state = parsed(STATE, lambda v: _choice(v, _STATES, STATE), "")
        if state not in ("", AssetState.HELD):
            bad.add(STATE)
            self.errors.append(
                RowError(number, STATE, _("取り込みで登録できるのは「保管中」の情報だけです。"))
            )
        categories: list[str] = parsed(CATEGORIES, _categories, [])
        if parsed(SENSITIVE, _flag, False) and PersonalCategory.SENSITIVE not in categories:
            categories.append(PersonalCategory.SENSITIVE)
        received = parsed(RECEIVED, _date, None)
        if received is None and RECEIVED not in bad:
            bad.add(RECEIVED)
            self.errors.append(RowError(number, RECEIVED, _("受領・作成日を入力してください。")))
        row = ParsedRow(
            row=number,
            key=norm(_text(cell(REF))),
            parent_key=norm(_text(cell(PARENT))),
            custodian=norm(_text(cell(CUSTODIAN))),
            permit_id=parsed(PERMIT, _integer, None),
            title=_text(cell(TITLE)),
            description=_text(cell(DESCRIPTION)),
            medium=parsed(MEDIUM, lambda v: _choice(v, _MEDIA, MEDIUM), ""),
            origin=parsed(ORIGIN, lambda v: _choice(v, _ORIGINS, ORIGIN), ""),
            received_on=received,
            location_kind=parsed(LOCATION_KIND, lambda v: _choice(v, _LOCATION_KINDS, LOCATION_KIND), ""),
            location=_text(cell(LOCATION)),
            quantity=parsed(QUANTITY, _integer, None),
            important=parsed(IMPORTANT, _flag, False),
            confidentiality=parsed(CONF, _integer, 2),
            integrity=parsed(INTEG, _integer, 1),
            availability=parsed(AVAIL, _integer, 1),
            has_personal_info=parsed(PERSONAL, _flag, False),
            personal_categories=categories,
            personal_count=parsed(COUNT, _integer, None),
            personal_purpose=_text(cell(PURPOSE)),
            personal_necessity=_text(cell(NECESSITY)),
        )
        if bad:
            row.bad = frozenset(bad)
        return row
