from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import shutil
import subprocess
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from sekisho.audit.models import AuditEvent
from sekisho.core.errors import Forbidden, NotFound
from sekisho.ledger.models import Asset, LocationKind, Origin
from sekisho.ledger.selectors import LedgerFilters
from sekisho.ledger.services import register_asset
from sekisho.ledger.xlsx_export import HEADERS, export_ledger
from tests.assets import electronic, paper

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(world, freeze_today):
    drawing = register_asset(world.contract, acting_user=world.manager, data=paper(world, important=True))
    register_asset(
        world.contract,
        acting_user=world.manager,
        data=electronic(
            world,
            origin=Origin.DERIVED,
            parent=drawing,
            title='=HYPERLINK("http://example.invalid","x")',
            has_personal_info=True,
            personal_categories=["address", "name"],
            personal_count=320,
            personal_purpose="排水設備調査の立会い依頼",
            personal_necessity="対象世帯への連絡",
            received_on=dt.date(2026, 8, 3),
        ),
    )
    return world.contract


def export(world, user=None, **kwargs) -> bytes:
    out = io.BytesIO()
    export_ledger(world.contract, acting_user=user or world.manager, out=out, **kwargs)
    return out.getvalue()


def sheet(data: bytes):
    return load_workbook(io.BytesIO(data))["情報管理台帳"]


def test_export_is_a_japanese_ledger_sheet(world, ledger):
    ws = sheet(export(world))
    assert "T-001" in ws["A1"].value and "下水道管渠調査設計業務" in ws["A1"].value
    assert "出力者" in ws["A1"].value and world.manager.display_name in ws["A1"].value
    assert tuple(c.value for c in ws[2]) == HEADERS
    assert ws.freeze_panes == "B3"
    assert ws.column_dimensions["B"].width > ws.column_dimensions["D"].width
    drawing = {h: c.value for h, c in zip(HEADERS, ws[3], strict=True)}
    assert drawing["台帳番号"] == "A-000001"
    assert (drawing["媒体"], drawing["由来"], drawing["保管場所の種別"]) == (
        "紙",
        "発注者から貸与・提供",
        "書庫・保管室",
    )
    assert drawing["受領・作成日"] == dt.datetime(2026, 7, 1)
    assert ws["G3"].is_date and ws["G3"].number_format == "yyyy/mm/dd"
    assert (drawing["重要情報"], drawing["個人情報"], drawing["要配慮"]) == ("○", None, None)
    assert drawing["管理者"] == world.staff.display_name
    assert drawing["状態"] == "保管中"
    report = {h: c.value for h, c in zip(HEADERS, ws[4], strict=True)}
    assert report["元の情報（台帳番号）"] == "A-000001"
    assert report["個人情報の項目"] == "住所、氏名"
    assert report["本人の数"] == 320
    assert ws.max_row == 4


def test_text_that_looks_like_a_formula_stays_text(world, ledger):
    cell = sheet(export(world))["B4"]
    assert cell.data_type == "s"
    assert cell.value.startswith("=HYPERLINK")


def test_wareki_option_writes_dates_in_the_japanese_era(world, ledger):
    ws = sheet(export(world, wareki=True))
    assert ws["G3"].value == "令和8年7月1日"
    assert ws["G4"].value == "令和8年8月3日"
    assert "令和" in ws["A1"].value


def test_filters_narrow_the_export(world, ledger):
    ws = sheet(export(world, filters=LedgerFilters(personal=True)))
    assert [row[0].value for row in ws.iter_rows(min_row=3)] == ["A-000002"]


def test_exporting_is_an_audited_event_with_the_files_hash(world, ledger):
    data = export(world, user=world.auditor, filters=LedgerFilters(important=True))
    event = AuditEvent.objects.filter(contract=world.contract).latest("index")
    assert (event.action, event.actor) == ("asset.export", world.auditor)
    assert event.summary["count"] == 1
    assert event.summary["filters"] == {"important": True}
    assert event.summary["sha256"] == hashlib.sha256(data).hexdigest()


def test_staff_do_not_export_and_outsiders_learn_nothing(world, ledger):
    before = AuditEvent.objects.count()
    with pytest.raises(Forbidden):
        export(world, user=world.staff)
    with pytest.raises(NotFound):
        export(world, user=world.outsider)
    assert AuditEvent.objects.count() == before


def _bulk(world, count: int) -> None:
    # Test set-up only: many rows quickly, without the registration's per-row checks.
    start = Asset.objects.filter(contract=world.contract).count()
    Asset.objects.bulk_create(
        Asset(
            contract=world.contract,
            ref=f"B-{start + n:06d}",
            title=f"資料{n}",
            medium="electronic",
            origin="derived",
            received_on=dt.date(2026, 7, 1),
            custodian=world.staff,
            location_kind=LocationKind.VAULT,
            created_by=world.manager,
        )
        for n in range(count)
    )


def _queries_for_export(world) -> int:
    with CaptureQueriesContext(connection) as queries:
        export(world)
    return len(queries)


def test_export_costs_the_same_queries_for_5_or_200_rows(world, freeze_today):
    _bulk(world, 5)
    small = _queries_for_export(world)
    _bulk(world, 195)
    assert Asset.objects.filter(contract=world.contract).count() == 200
    assert _queries_for_export(world) == small


def _client(user):
    from django.test import Client

    from sekisho.core.auth import issue_api_token

    _token, text = issue_api_token(user, acting_user=user, name="t")
    return Client(headers={"Authorization": f"Bearer {text}"})


def test_api_sends_the_workbook_with_a_japanese_file_name(world, ledger):
    response = _client(world.orderer).get(f"/api/v1/contracts/{world.contract.pk}/ledger.xlsx?wareki=true")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="ledger_T-001_20260803.xlsx"')
    assert f"filename*=UTF-8''{quote('情報管理台帳_T-001_20260803.xlsx')}" in disposition
    ws = sheet(b"".join(response.streaming_content))
    assert ws["G3"].value == "令和8年7月1日"


def test_api_export_applies_the_ledger_filters(world, ledger):
    response = _client(world.manager).get(f"/api/v1/contracts/{world.contract.pk}/ledger.xlsx?important=true")
    ws = sheet(b"".join(response.streaming_content))
    assert [row[0].value for row in ws.iter_rows(min_row=3)] == ["A-000001"]


def test_command_exports_a_file(world, ledger, tmp_path):
    from django.core.management import call_command

    target = tmp_path / "台帳.xlsx"
    call_command("ledger", "export", "T-001", str(target), "--wareki", "--as", "auditor")
    assert sheet(target.read_bytes())["G3"].value == "令和8年7月1日"
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_the_export_and_reads_the_cells(world, ledger, tmp_path):
    source = tmp_path / "ledger.xlsx"
    source.write_bytes(export(world))
    result = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/lo-profile",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1",  # comma, double quote, UTF-8, first line 1
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    converted = tmp_path / "ledger.csv"
    assert converted.exists(), result.stderr.decode(errors="replace")
    rows = list(csv.reader(io.StringIO(converted.read_text(encoding="utf-8"))))
    assert rows[0][0].startswith("情報管理台帳")
    assert tuple(rows[1]) == HEADERS
    drawing = dict(zip(HEADERS, rows[2], strict=True))
    assert (drawing["台帳番号"], drawing["媒体"], drawing["重要情報"]) == ("A-000001", "紙", "○")
    assert drawing["受領・作成日"] == "2026/07/01"
    formula_like = dict(zip(HEADERS, rows[3], strict=True))
    assert formula_like["名称"].startswith("=HYPERLINK")  # shown as text, not evaluated


def test_the_file_speaks_japanese_whatever_the_users_language(world, ledger):
    from django.utils import translation

    from sekisho.ledger.importer import import_assets
    from sekisho.ledger.models import Medium

    with translation.override("en"):
        assert str(Medium.PAPER.label) == "Paper"  # the screens are English…
        data = export(world)
        drawing = dict(zip(HEADERS, (c.value for c in sheet(data)[3]), strict=True))
        assert (drawing["媒体"], drawing["状態"]) == ("紙", "保管中")  # …the ledger file is not
        result = import_assets(
            world.contract, acting_user=world.manager, filename="x.xlsx", stream=io.BytesIO(data)
        )
    assert result.count == 2
    assert Asset.objects.filter(contract=world.contract, medium=Medium.PAPER).count() == 2
