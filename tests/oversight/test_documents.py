"""The inspection report (検査結果通知書): PDF with the IPAex fonts embedded, DOCX that LibreOffice opens; the
checklist with its results, the findings and their corrective actions, dates in 和暦."""

from __future__ import annotations

import re
import subprocess
import zipfile

import pytest

from sekisho.core.wareki import to_wareki
from sekisho.oversight import documents, inspections, selectors
from sekisho.oversight.models import ItemResult

from ..tools import dark_fraction_of_pdf_page, require_tool
from .conftest import in_days

pytestmark = pytest.mark.django_db


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture
def report(world, started):
    for item in started.items.all():
        result = ItemResult.NOT_APPLICABLE if item.clause_id.startswith("P") else ItemResult.CONFORMING
        inspections.record_item(item, acting_user=world.orderer, result=result, note="")
    item = started.items.get(clause_id="R2.7エ")
    inspections.record_item(
        item, acting_user=world.orderer, result=ItemResult.NONCONFORMING, note="暗号化なしのUSBを使用"
    )
    finding = inspections.add_finding(
        item,
        acting_user=world.orderer,
        description="暗号化機能のないUSBメモリで図面を運搬していた",
        corrective_request="暗号化USBへの切替えと台帳の更新",
        due_on=in_days(14),
    )
    inspections.respond_to_finding(finding, acting_user=world.manager, response="暗号化USBに切り替えた")
    inspections.complete_inspection(started, acting_user=world.orderer, summary="概ね適切に管理されている")
    return documents.content(selectors.inspection(world.orderer, world.contract, started.pk))


def test_content_has_the_checklist_results_findings_and_wareki_dates(world, report):
    assert report.title == "情報管理状況検査結果通知書" and report.provisional == ""
    assert report.addressee == "株式会社テスト設計　御中" and report.issuer == "倉敷市環境局下水道部"
    assert report.date.startswith("令和")
    rows = {row[1]: row for row in report.checklist}
    assert rows["R2.7エ"][3] == "指摘" and rows["R2.7エ"][4] == "暗号化なしのUSBを使用"
    assert rows["R1.1"][3] == "適合" and rows["P1"][3] == "該当なし"
    (finding,) = report.findings
    assert finding[0] == "INS-1-1" and finding[1] == "R2.7エ"
    assert to_wareki(in_days(14)) in finding[3]
    assert "暗号化USBに切り替えた" in finding[4] and finding[5].startswith("是正報告済")
    assert ["指摘", "1項目"] in report.tally
    assert report.summary == "概ね適切に管理されている"


def test_an_inspection_in_progress_is_marked_provisional(world, started):
    report = documents.content(selectors.inspection(world.orderer, world.contract, started.pk))
    assert "確定していません" in report.provisional
    assert all(row[3] == "未記録" for row in report.checklist)


def test_pdf_renders_with_the_japanese_fonts_embedded(report, tmp_path):
    path = tmp_path / "inspection.pdf"
    path.write_bytes(documents.pdf(report))
    assert path.read_bytes().startswith(b"%PDF-")
    assert 0.005 < dark_fraction_of_pdf_page(str(path)) < 0.5
    fonts = subprocess.run(
        [require_tool("pdffonts"), str(path)], check=True, capture_output=True, text=True
    ).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert {"IPAexMincho", "IPAexGothic"} <= {row[0].split("+")[-1] for row in rows}
    assert all("yes" in row for row in rows)
    text = flat(
        subprocess.run(
            [require_tool("pdftotext"), str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
    )
    for expected in (
        "情報管理状況検査結果通知書",
        "チェックリスト",
        "INS-1-1",
        "暗号化USBへの切替え",
        "令和",
    ):
        assert expected in text, expected


def test_docx_opens_in_libreoffice(report, tmp_path):
    soffice = require_tool("soffice")
    path = tmp_path / "inspection.docx"
    path.write_bytes(documents.docx(report))
    with zipfile.ZipFile(path) as docx:
        assert 'w:eastAsia="IPAexMincho"' in docx.read("word/styles.xml").decode()
    profile = tmp_path / "lo-profile"
    result = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path / "out"),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    converted = tmp_path / "out" / "inspection.pdf"
    assert converted.exists(), result.stdout + result.stderr
    assert 0.005 < dark_fraction_of_pdf_page(str(converted)) < 0.5
    text = flat(
        subprocess.run(
            [require_tool("pdftotext"), str(converted), "-"], check=True, capture_output=True, text=True
        ).stdout
    )
    for expected in ("情報管理状況検査結果通知書", "チェックリスト", "INS-1-1", "暗号化USBに切り替えた"):
        assert expected in text, expected


def test_what_people_typed_is_text_in_the_pdf(world, started, tmp_path):
    typed = '#set page(fill: red) *太字* $x$ #read("/etc/passwd")'
    item = started.items.get(clause_id="R1.1")
    inspections.record_item(item, acting_user=world.orderer, result=ItemResult.NONCONFORMING, note=typed)
    report = documents.content(selectors.inspection(world.orderer, world.contract, started.pk))
    path = tmp_path / "typed.pdf"
    path.write_bytes(documents.pdf(report))
    text = subprocess.run(
        [require_tool("pdftotext"), str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "#set page(fill: red) *太字* $x$" in text and "root:" not in text
