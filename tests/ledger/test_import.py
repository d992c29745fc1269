from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from sekisho.audit.models import AuditEvent
from sekisho.core import services as core
from sekisho.core.errors import Conflict, Forbidden, Invalid, NotFound
from sekisho.core.models import Contract, Role
from sekisho.ledger import importer
from sekisho.ledger.importer import reading
from sekisho.ledger.models import Asset, AssetState, LocationKind, Medium, Origin
from sekisho.ledger.services import register_asset
from sekisho.ledger.xlsx_export import HEADERS, export_ledger
from sekisho.permits import services as permits
from sekisho.permits.models import PermitState
from tests.assets import DAY, electronic, paper

from ..factories import PERIOD, UserFactory
from ..people.clearing import clear_contract

pytestmark = pytest.mark.django_db

BASE = {
    "名称": "下水道台帳図",
    "媒体": "紙",
    "由来": "発注者から貸与・提供",
    "受領・作成日": "2026/07/01",
    "管理者": "staff",
    "保管場所の種別": "書庫・保管室",
    "保管場所": "3階書庫A-2",
    "数量": 1,
}
ELECTRONIC = {
    "名称": "調査結果",
    "媒体": "電子",
    "由来": "受注者が作成・加工",
    "受領・作成日": "2026/07/01",
    "管理者": "staff",
    "保管場所の種別": "保管庫（暗号化）",
}


def counts():
    return Asset.objects.count(), AuditEvent.objects.count()


def xlsx_bytes(rows: list[dict], headers: tuple[str, ...] = HEADERS, title_row: bool = False) -> bytes:
    """A workbook as a person would fill it in: a header row, then one row per dict (row 2, 3, …)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "情報管理台帳"
    if title_row:
        ws.append(["情報管理台帳　手入力"])
    ws.append(list(headers))
    for values in rows:
        ws.append([values.get(h) for h in headers])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows: list[dict], encoding: str = "utf-8", headers: tuple[str, ...] = HEADERS) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(headers)
    for values in rows:
        writer.writerow(["" if values.get(h) is None else values.get(h) for h in headers])
    return out.getvalue().encode(encoding)


def run_import(world, content: bytes, filename: str = "ledger.xlsx", contract=None, user=None):
    return importer.import_assets(
        contract or world.contract,
        acting_user=user or world.manager,
        filename=filename,
        stream=io.BytesIO(content),
    )


def rejected(world, content: bytes, filename: str = "ledger.xlsx", code: str = "import_rejected"):
    """Import *content*, expect a refusal that wrote nothing, and return the refusal."""
    before = counts()
    with pytest.raises(Invalid) as exc:
        run_import(world, content, filename)
    assert exc.value.code == code, exc.value.message
    assert counts() == before
    return exc.value


def errors_of(exc) -> set[tuple[int | None, str | None]]:
    return {(e.row, e.column) for e in exc.row_errors}


@pytest.fixture
def second_contract(world):
    """A second contract with the same contractor people, to import an exported ledger into."""
    contract = core.create_contract(
        acting_user=world.admin,
        number="T-003",
        title="管渠更生設計業務",
        orderer=world.orderer_org,
        contractor=world.contractor_org,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
    )
    core.appoint_lead(contract, acting_user=world.admin, user=world.orderer, role=Role.ORDERER)
    core.appoint_lead(contract, acting_user=world.admin, user=world.manager, role=Role.MANAGER)
    core.add_member(contract, acting_user=world.manager, user=world.staff, role=Role.STAFF)
    clear_contract(contract, world.manager, [world.staff])
    return contract


@pytest.fixture
def varied_ledger(world, freeze_today):
    """Originals, derivatives, copies of derivatives, and personal information."""
    m = world.manager
    drawing = register_asset(world.contract, acting_user=m, data=paper(world, quantity=3, important=True))
    report = register_asset(
        world.contract,
        acting_user=m,
        data=electronic(
            world,
            origin=Origin.DERIVED,
            parent=drawing,
            title="調査報告書（案）",
            description="台帳図をもとに作成",
            confidentiality=3,
            integrity=2,
            availability=2,
        ),
    )
    register_asset(
        world.contract,
        acting_user=m,
        data=electronic(
            world,
            origin=Origin.COPY,
            parent=report,
            title="報告書バックアップ",
            location_kind=LocationKind.DEVICE,
            location="PC-012",
            received_on=dt.date(2027, 3, 19),
        ),
    )
    register_asset(
        world.contract,
        acting_user=m,
        data=electronic(
            world,
            title="下水道使用者名簿",
            custodian=world.manager,
            has_personal_info=True,
            personal_categories=["name", "address", "sensitive"],
            personal_count=320,
            personal_purpose="排水設備調査の立会い依頼",
            personal_necessity="対象世帯への連絡",
        ),
    )
    return world.contract


def exported(world, contract=None, **kwargs) -> bytes:
    out = io.BytesIO()
    export_ledger(contract or world.contract, acting_user=world.manager, out=out, **kwargs)
    return out.getvalue()


COMPARED = (
    *("title", "description", "medium", "origin", "received_on", "custodian_id", "location_kind"),
    *("location", "quantity", "important", "confidentiality", "integrity", "availability"),
    *("has_personal_info", "personal_categories", "personal_sensitive", "personal_count"),
    *("personal_purpose", "personal_necessity", "state"),
)


def content(contract) -> list[tuple]:
    """A contract's ledger without its numbers: each asset's fields and its parent's and root's title."""
    rows = []
    for a in Asset.objects.filter(contract=contract).select_related("parent", "root").order_by("title"):
        rows.append(
            (
                *(getattr(a, f) for f in COMPARED),
                a.parent.title if a.parent else None,
                a.root.title if a.root else None,
            )
        )
    return rows


# --- round trips -----------------------------------------------------------------------------------------


def test_exported_ledger_reimports_into_another_contract_with_the_same_content(
    world, varied_ledger, second_contract
):
    result = run_import(world, exported(world), contract=second_contract)
    assert (result.count, result.first_ref, result.last_ref) == (4, "A-000001", "A-000004")
    assert content(second_contract) == content(world.contract)
    backup = Asset.objects.get(contract=second_contract, title="報告書バックアップ")
    assert backup.root == Asset.objects.get(contract=second_contract, title="下水道台帳図（紙）")


def test_import_writes_one_audit_event_with_the_files_hash(world, varied_ledger, second_contract):
    data = exported(world)
    before = AuditEvent.objects.filter(contract=second_contract).count()
    run_import(world, data, contract=second_contract)
    events = AuditEvent.objects.filter(contract=second_contract).order_by("index")
    assert events.count() == before + 1
    event = events.last()
    assert event.action == "asset.import"
    assert event.summary["count"] == 4
    assert (event.summary["first_ref"], event.summary["last_ref"]) == ("A-000001", "A-000004")
    assert event.summary["sha256"] == hashlib.sha256(data).hexdigest()


def test_wareki_export_reimports(world, varied_ledger, second_contract):
    data = exported(world, wareki=True)
    run_import(world, data, contract=second_contract)
    assert content(second_contract) == content(world.contract)


def _as_csv(xlsx: bytes, encoding: str) -> bytes:
    """What Excel's "save as CSV" makes of an exported workbook."""
    ws = load_workbook(io.BytesIO(xlsx)).active
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    for row in ws.iter_rows(values_only=True):
        writer.writerow(
            ["" if v is None else v.strftime("%Y/%m/%d") if isinstance(v, dt.datetime) else v for v in row]
        )
    return out.getvalue().encode(encoding)


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig", "utf-8"])
def test_csv_in_shift_jis_or_utf8_reimports(world, varied_ledger, second_contract, encoding):
    data = _as_csv(exported(world), encoding)
    if encoding == "cp932":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # really Shift_JIS, not UTF-8 by accident
    run_import(world, data, filename="台帳.CSV", contract=second_contract)
    assert content(second_contract) == content(world.contract)


def test_rows_are_numbered_parents_first_after_the_existing_ledger(world, freeze_today):
    register_asset(world.contract, acting_user=world.manager, data=paper(world))
    rows = [
        {
            **ELECTRONIC,
            "台帳番号": "x2",
            "名称": "写し",
            "由来": "複写・電子化",
            "元の情報（台帳番号）": "x1",
        },
        {**ELECTRONIC, "台帳番号": "x1", "名称": "原稿"},
        {**ELECTRONIC, "名称": "別の原稿", "受領・作成日": dt.datetime(2026, 8, 1)},
    ]
    result = run_import(world, xlsx_bytes(rows))
    assert (result.first_ref, result.last_ref) == ("A-000002", "A-000004")
    by_title = {a.title: a for a in Asset.objects.filter(contract=world.contract)}
    assert by_title["原稿"].ref == "A-000002"
    assert by_title["別の原稿"].ref == "A-000003"
    assert by_title["写し"].ref == "A-000004"
    assert by_title["写し"].parent == by_title["原稿"]
    assert by_title["写し"].root == by_title["原稿"]
    # the next registration continues the numbering
    assert register_asset(world.contract, acting_user=world.staff, data=paper(world)).ref == "A-000005"


def test_parent_may_be_an_existing_asset_of_the_contract(world, freeze_today):
    report = register_asset(
        world.contract, acting_user=world.manager, data=electronic(world, origin=Origin.DERIVED)
    )
    rows = [{**ELECTRONIC, "名称": "写し", "由来": "複写・電子化", "元の情報（台帳番号）": report.ref}]
    run_import(world, xlsx_bytes(rows))
    copy = Asset.objects.get(title="写し")
    assert (copy.parent, copy.root) == (report, report)


def test_title_row_above_headers_and_loose_spellings_are_accepted(world, freeze_today):
    rows = [
        {
            **BASE,
            "媒体": "paper",
            "受領・作成日": "R8.7.1",
            "重要情報": "〇",
            "機密性": "３",
            "数量": "1,200",
        },
        {
            **ELECTRONIC,
            "保管場所の種別": "保管庫",
            "受領・作成日": "2026年7月2日",
            "個人情報": "はい",
            "個人情報の項目": "氏名，メールアドレス",
            "要配慮": "○",
            "本人の数": 12.0,
            "収集・利用目的": "連絡",
            "必要性": "立会い",
            "状態": "保管中",
        },
    ]
    run_import(world, xlsx_bytes(rows, title_row=True))
    drawing, roster = Asset.objects.filter(contract=world.contract).order_by("id")
    assert (drawing.received_on, drawing.important, drawing.confidentiality, drawing.quantity) == (
        dt.date(2026, 7, 1),
        True,
        3,
        1200,
    )
    assert roster.personal_categories == ["email", "name", "sensitive"]
    assert roster.personal_sensitive


def test_custodian_by_display_name(world, freeze_today):
    rows = [{**ELECTRONIC, "管理者": world.staff.display_name}]
    run_import(world, xlsx_bytes(rows))
    assert Asset.objects.get(contract=world.contract).custodian == world.staff


# --- copies and permits (R2.3 / P7) ----------------------------------------------------------------------


def test_copy_of_lent_paper_needs_a_permit_and_uses_it_up(world, drawing, copy_permit):
    row = {
        **ELECTRONIC,
        "名称": "台帳図スキャン",
        "由来": "複写・電子化",
        "元の情報（台帳番号）": drawing.ref,
    }
    exc = rejected(world, xlsx_bytes([row, row]))
    (error,) = exc.row_errors
    assert (error.row, error.column, error.clause) == (3, "根拠承諾番号", "R2.3")
    assert "部数" in error.message
    run_import(world, xlsx_bytes([row]))
    scan = Asset.objects.get(title="台帳図スキャン")
    assert (scan.permit, scan.parent, scan.root) == (copy_permit, drawing, drawing)
    copy_permit.refresh_from_db()
    assert copy_permit.state == PermitState.USED
    assert AuditEvent.objects.filter(action="permit.used").count() == 1


def test_copy_of_lent_paper_without_any_permit_is_refused_with_the_clause(world, drawing, freeze_today):
    row = {
        **ELECTRONIC,
        "名称": "台帳図スキャン",
        "由来": "複写・電子化",
        "元の情報（台帳番号）": drawing.ref,
    }
    exc = rejected(world, xlsx_bytes([row]))
    assert [(e.row, e.column, e.clause) for e in exc.row_errors] == [(2, "根拠承諾番号", "R2.3")]
    assert "承諾が必要" in exc.row_errors[0].message


def test_copy_of_lent_paper_in_the_same_file_cannot_have_a_permit_yet(world, freeze_today):
    rows = [
        {**BASE, "台帳番号": "1"},
        {**ELECTRONIC, "名称": "スキャン", "由来": "複写・電子化", "元の情報（台帳番号）": "1"},
    ]
    exc = rejected(world, xlsx_bytes(rows))
    assert [(e.row, e.column, e.clause) for e in exc.row_errors] == [(3, "元の情報（台帳番号）", "R2.3")]


def test_copy_of_lent_personal_information_needs_a_permit_p7(world, freeze_today):
    roster = register_asset(
        world.contract,
        acting_user=world.manager,
        data=electronic(
            world,
            has_personal_info=True,
            personal_categories=["name"],
            personal_count=5,
            personal_purpose="連絡",
            personal_necessity="立会い",
        ),
    )
    row = {**ELECTRONIC, "名称": "名簿の写し", "由来": "複写・電子化", "元の情報（台帳番号）": roster.ref}
    exc = rejected(world, xlsx_bytes([row]))
    assert exc.row_errors[0].clause == "P7"


def test_a_named_permit_must_belong_to_the_contract_and_be_needed(world, drawing, copy_permit):
    rows = [
        {**ELECTRONIC, "根拠承諾番号": copy_permit.pk},  # not a copy: no permit applies
        {**ELECTRONIC, "由来": "複写・電子化", "元の情報（台帳番号）": drawing.ref, "根拠承諾番号": 999999},
    ]
    exc = rejected(world, xlsx_bytes(rows))
    assert errors_of(exc) == {(2, "根拠承諾番号"), (3, "根拠承諾番号")}


# --- bad rows: every problem, by row and column, nothing written ------------------------------------------


def test_every_bad_row_is_reported_with_row_column_and_reason(world, freeze_today):
    rows = [
        {**BASE},  # row 2: fine
        {**BASE, "数量": "三"},  # row 3: wrong type
        {**BASE, "受領・作成日": "昨日"},  # row 4: not a date
        {**BASE, "受領・作成日": "2026/05/31"},  # row 5: before the contract period
        {**BASE, "受領・作成日": dt.date(2027, 3, 20)},  # row 6: after it
        {**ELECTRONIC, "個人情報": "○", "個人情報の項目": "氏名", "本人の数": 3},  # row 7: P5
        {**BASE, "元の情報（台帳番号）": "A-999999", "由来": "受注者が作成・加工"},  # row 8: unknown parent
        {**BASE, "機密性": "高", "重要情報": "たぶん"},  # row 9: two wrong cells
        {**BASE, "媒体": "石版"},  # row 10
        {**BASE, "管理者": "orderer"},  # row 11: not a contractor-side member
        {**BASE, "状態": "返却済"},  # row 12: only held things are imported
        {**BASE, "受領・作成日": "令和1年4月30日"},  # row 13: a day 令和 did not have
        {**BASE, "名称": ""},  # row 14
        {**BASE, "本人の数": 10**12},  # row 15: does not fit the database
    ]
    exc = rejected(world, xlsx_bytes(rows))
    found = errors_of(exc)
    assert found >= {
        (3, "数量"),
        (4, "受領・作成日"),
        (5, "受領・作成日"),
        (6, "受領・作成日"),
        (7, "収集・利用目的"),
        (7, "必要性"),
        (8, "元の情報（台帳番号）"),
        (9, "機密性"),
        (9, "重要情報"),
        (10, "媒体"),
        (11, "管理者"),
        (12, "状態"),
        (13, "受領・作成日"),
        (14, "名称"),
        (15, "本人の数"),
    }
    assert 2 not in {row for row, _column in found}
    p5 = [e for e in exc.row_errors if e.row == 7]
    assert {e.clause for e in p5} == {"P5"}
    # one message per cell: an unreadable date is not also "outside the period"
    assert len([e for e in exc.row_errors if e.row == 4]) == 1
    assert "履行期間" in next(e.message for e in exc.row_errors if e.row == 5)
    assert "3行目" in exc.message and "数量" in exc.message
    assert exc.extra["total"] == len(exc.row_errors)
    assert exc.extra["rows"][0] == {
        "row": 3,
        "column": "数量",
        "message": "整数で入力してください。",
        "clause": None,
    }


def test_lineage_cycle_names_the_rows_in_it(world, freeze_today):
    derived = {**ELECTRONIC, "由来": "複写・電子化"}
    rows = [
        {**ELECTRONIC, "台帳番号": "a"},  # row 2: fine
        {**derived, "台帳番号": "b", "元の情報（台帳番号）": "c"},  # row 3 ─┐
        {**derived, "台帳番号": "c", "元の情報（台帳番号）": "d"},  # row 4   │ cycle
        {**derived, "台帳番号": "d", "元の情報（台帳番号）": "b"},  # row 5 ─┘
        {**derived, "台帳番号": "e", "元の情報（台帳番号）": "d"},  # row 6: below the cycle
        {**derived, "台帳番号": "f", "元の情報（台帳番号）": "f"},  # row 7: its own parent
    ]
    exc = rejected(world, xlsx_bytes(rows))
    by_row = {e.row: e for e in exc.row_errors}
    assert set(by_row) == {3, 4, 5, 6, 7}
    assert all(e.column == "元の情報（台帳番号）" for e in exc.row_errors)
    assert "3 → 4 → 5 → 3" in by_row[3].message
    assert "循環" in by_row[6].message and "5行目" in by_row[6].message
    assert "7 → 7" in by_row[7].message


def test_duplicate_ledger_numbers_in_a_file_are_refused(world, freeze_today):
    exc = rejected(world, xlsx_bytes([{**BASE, "台帳番号": "1"}, {**BASE, "台帳番号": "1"}]))
    assert errors_of(exc) == {(3, "台帳番号")}


def test_missing_required_column_is_reported_on_the_header_row(world, freeze_today):
    headers = tuple(h for h in HEADERS if h != "受領・作成日")
    exc = rejected(world, xlsx_bytes([BASE], headers=headers))
    assert (1, "受領・作成日") in errors_of(exc)


def test_unknown_and_ambiguous_custodian_names(world, freeze_today):
    twin = UserFactory(
        username="twin", display_name=world.staff.display_name, organisation=world.contractor_org
    )
    core.add_member(world.contract, acting_user=world.manager, user=twin, role=Role.STAFF)
    exc = rejected(
        world, xlsx_bytes([{**BASE, "管理者": world.staff.display_name}, {**BASE, "管理者": "誰か"}])
    )
    messages = {e.row: e.message for e in exc.row_errors}
    assert "複数" in messages[2]
    assert "いません" in messages[3]


def test_too_many_errors_are_reported_up_to_a_limit(world, freeze_today, monkeypatch):
    monkeypatch.setattr(importer, "MAX_REPORTED_ERRORS", 3)
    exc = rejected(world, xlsx_bytes([{**BASE, "数量": "x"}] * 5))
    assert (len(exc.row_errors), len(exc.extra["rows"]), exc.extra["truncated"]) == (5, 3, True)


# --- bad files ---------------------------------------------------------------------------------------------


def test_empty_file_is_refused(world):
    exc = rejected(world, b"", code="import_file_invalid")
    assert "空" in exc.message


def test_random_bytes_named_xlsx_are_refused(world):
    exc = rejected(world, os.urandom(4096), code="import_file_invalid")
    assert ".xlsx" in exc.message


def test_truncated_xlsx_is_refused(world):
    data = xlsx_bytes([BASE])
    rejected(world, data[: len(data) // 2], code="import_file_invalid")


def test_zip_that_is_not_a_workbook_is_refused(world):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    rejected(world, out.getvalue(), code="import_file_invalid")


def test_workbook_with_broken_xml_is_refused(world):
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([BASE])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            body = source.read(info)
            if info.filename.startswith("xl/worksheets/"):
                body = body[: len(body) // 2]
            archive.writestr(info, body)
    rejected(world, out.getvalue(), code="import_file_invalid")


def _bomb(size: int) -> bytes:
    """A workbook-shaped zip whose sheet unpacks to *size* bytes of zeros (a few KiB packed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * size)
    return out.getvalue()


def test_zip_bomb_is_refused_before_it_is_unpacked(world):
    data = _bomb(20 * 1024 * 1024)
    assert len(data) < 100_000
    exc = rejected(world, data, code="import_file_invalid")
    assert "展開後" in exc.message


def test_unpacked_size_is_capped_even_at_an_ordinary_ratio(world, monkeypatch):
    monkeypatch.setattr(reading, "MAX_UNCOMPRESSED_TOTAL", 100_000)
    rejected(world, xlsx_bytes([BASE] * 2000), code="import_file_invalid")


def test_file_over_the_size_limit_is_refused(world, settings):
    settings.SEKISHO_IMPORT_MAX_BYTES = 1000
    exc = rejected(world, xlsx_bytes([BASE]), code="import_file_invalid")
    assert "大きすぎ" in exc.message


def test_too_many_rows_are_refused(world, freeze_today, monkeypatch):
    monkeypatch.setattr(reading, "MAX_ROWS", 3)
    exc = rejected(world, xlsx_bytes([BASE] * 4), code="import_file_invalid")
    assert "行数" in exc.message
    run_import(world, xlsx_bytes([BASE] * 3))


def test_row_numbers_beyond_excels_last_row_are_refused(world, freeze_today):
    """A hand-made sheet may number its rows as it likes; the reader must not follow it for ever."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([BASE])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert b'<row r="2"' in body
                body = body.replace(b'<row r="2"', b'<row r="99999999"')
            archive.writestr(info, body)
    exc = rejected(world, out.getvalue(), code="import_file_invalid")
    assert "行数" in exc.message


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("ledger.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100),
        ("ledger.pdf", b"%PDF-1.7"),
        ("ledger", b"a,b"),
    ],
)
def test_other_formats_are_refused(world, filename, content):
    rejected(world, content, filename=filename, code="import_file_invalid")


def test_encrypted_or_legacy_excel_named_xlsx_is_refused(world):
    exc = rejected(world, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, code="import_file_invalid")
    assert "パスワード" in exc.message


def test_csv_in_an_unknown_encoding_is_refused(world):
    rejected(world, "名称,媒体\n".encode("utf-16"), filename="a.csv", code="import_file_invalid")


def test_csv_with_a_nul_byte_is_refused(world):
    rejected(world, csv_bytes([BASE]) + b"\0,x\n", filename="a.csv", code="import_file_invalid")


def test_file_without_a_header_row_is_refused(world):
    exc = rejected(world, csv_bytes([BASE], headers=("a", "b")), filename="a.csv", code="import_file_invalid")
    assert "見出し" in exc.message


def test_header_only_file_is_refused(world):
    rejected(world, csv_bytes([]), filename="a.csv", code="import_file_invalid")


# --- who may import ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["staff", "orderer", "auditor"])
def test_only_the_information_manager_imports(world, freeze_today, persona):
    with pytest.raises(Forbidden):
        run_import(world, xlsx_bytes([BASE]), user=getattr(world, persona))


def test_outsider_learns_nothing(world):
    with pytest.raises(NotFound):
        run_import(world, b"", user=world.outsider)


def test_closed_contract_takes_no_import(world, freeze_today):
    for actor, to in ((world.manager, "active"), (world.orderer, "closing")):
        core.transition_contract(world.contract, acting_user=actor, to_status=to)
    with pytest.raises(Conflict):
        run_import(world, xlsx_bytes([BASE]))
    assert Contract.objects.get(pk=world.contract.pk).status == "closing"


# --- through the API ---------------------------------------------------------------------------------------


def _client(user):
    from django.test import Client

    from sekisho.core.auth import issue_api_token

    _token, text = issue_api_token(user, acting_user=user, name="t")
    return Client(headers={"Authorization": f"Bearer {text}"})


def _upload(client, contract, data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/api/v1/contracts/{contract.pk}/assets/import", {"file": SimpleUploadedFile(name, data)}
    )


def test_api_import_answers_201_with_the_numbers(world, freeze_today):
    response = _upload(_client(world.manager), world.contract, xlsx_bytes([BASE, ELECTRONIC]), "台帳.xlsx")
    assert response.status_code == 201, response.content
    assert response.json() == {"count": 2, "first_ref": "A-000001", "last_ref": "A-000002"}


def test_api_import_answers_422_with_every_row_error(world, freeze_today):
    client = _client(world.manager)
    before = counts()
    response = _upload(
        client,
        world.contract,
        xlsx_bytes([BASE, {**BASE, "受領・作成日": "2020/01/01"}, {**BASE, "媒体": "x"}]),
        "台帳.xlsx",
    )
    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["clause"]) == ("import_rejected", None)
    assert [(r["row"], r["column"]) for r in body["rows"]] == [(3, "受領・作成日"), (4, "媒体")]
    assert set(body["rows"][0]) == {"row", "column", "message", "clause"}
    assert counts() == before


def test_api_import_of_an_oversized_upload_is_refused_without_keeping_it(world, settings):
    settings.SEKISHO_IMPORT_MAX_BYTES = 10_000
    response = _upload(_client(world.manager), world.contract, os.urandom(50_000), "big.xlsx")
    assert response.status_code == 422
    assert response.json()["error"] == "import_file_invalid"
    assert "大きすぎ" in response.json()["message"]


def test_api_import_of_a_malformed_file_is_a_422_not_a_500(world):
    response = _upload(_client(world.manager), world.contract, os.urandom(3000), "x.xlsx")
    assert response.status_code == 422
    assert response.json()["rows"] == []


def test_api_import_by_staff_is_forbidden(world):
    response = _upload(_client(world.staff), world.contract, xlsx_bytes([BASE]), "台帳.xlsx")
    assert response.status_code == 403


# --- the command line --------------------------------------------------------------------------------------


def test_command_imports_and_reports_row_errors(world, freeze_today, tmp_path):
    from django.core.management import CommandError, call_command

    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.csv"
    good.write_bytes(xlsx_bytes([BASE]))
    bad.write_bytes(csv_bytes([{**BASE, "数量": "x"}], encoding="cp932"))
    out = io.StringIO()
    call_command("ledger", "import", "T-001", str(good), "--as", "manager", stdout=out)
    assert "A-000001" in out.getvalue()
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("ledger", "import", "T-001", str(bad), "--as", "manager", stderr=err)
    assert "2行目" in err.getvalue() and "数量" in err.getvalue()
    assert Asset.objects.count() == 1


def test_import_keeps_states_as_held(world, freeze_today):
    run_import(world, xlsx_bytes([BASE]))
    assert Asset.objects.get().state == AssetState.HELD


def test_paper_medium_label_and_value_both_map(world, freeze_today):
    run_import(world, xlsx_bytes([BASE, {**BASE, "媒体": "PAPER"}]))
    assert set(Asset.objects.values_list("medium", flat=True)) == {Medium.PAPER}


def test_permit_of_two_copies_covers_two_rows(world, drawing, freeze_today):
    permit = permits.request_permit(
        world.contract,
        acting_user=world.staff,
        kind="copy",
        assets=[drawing],
        reason="2部",
        copies=2,
        valid_from=DAY,
        valid_until=dt.date(2026, 12, 1),
    )
    permits.decide_permit(permit, acting_user=world.orderer, approve=True)
    row = {**BASE, "名称": "台帳図コピー", "由来": "複写・電子化", "元の情報（台帳番号）": drawing.ref}
    run_import(world, xlsx_bytes([row, {**row, "根拠承諾番号": permit.pk}]))
    assert Asset.objects.filter(permit=permit).count() == 2
    permit.refresh_from_db()
    assert permit.state == PermitState.USED


def test_personal_information_rows_need_the_importers_p8_access(world, freeze_today, monkeypatch):
    """The P8 gate (subcontractor people without the orderer's consent) applies to an import as to a single
    registration, before anything is checked or written."""
    from sekisho.people import gates

    def refuse(user, contract):
        raise Forbidden("個人情報を扱う承諾がありません。", code="personal_info_not_consented", clause="P8")

    monkeypatch.setattr(importer, "require_personal_info_access", refuse)
    personal = {
        **ELECTRONIC,
        "個人情報": "○",
        "個人情報の項目": "氏名",
        "本人の数": 3,
        "収集・利用目的": "連絡",
        "必要性": "立会い",
    }
    before = counts()
    with pytest.raises(Forbidden) as exc:
        run_import(world, xlsx_bytes([ELECTRONIC, personal]))
    assert exc.value.clause == "P8"
    assert counts() == before
    run_import(world, xlsx_bytes([ELECTRONIC]))
    assert gates.require_personal_info_access is not refuse
