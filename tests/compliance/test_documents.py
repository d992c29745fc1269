"""The compliance report: every clause with its state and the open findings, 和暦 dates, in Japanese whatever
the screen's language; a PDF with the fonts embedded that renders, and a DOCX that LibreOffice opens."""

from __future__ import annotations

import re
import subprocess

import pytest
from django.utils import timezone, translation

from sekisho.compliance import documents
from sekisho.compliance.profile import default_profile
from sekisho.core.wareki import to_wareki
from sekisho.ledger.models import Asset, LocationKind

from ..tools import dark_fraction_of_pdf_page, require_tool
from .conftest import electronic, evaluate

pytestmark = pytest.mark.django_db


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture
def report(world):
    asset = electronic(world, title="劣化箇所の写真", important=True)
    Asset.objects.filter(pk=asset.pk).update(location_kind=LocationKind.DEVICE, location="ノートPC")
    evaluate(world)
    return documents.content(world.contract)


def test_the_report_lists_every_clause_with_its_state_and_the_findings(world, report):
    assert [row[0] for row in report.clauses] == list(default_profile().clause_ids)
    states = {row[0]: row[2] for row in report.clauses}
    assert states["R2.7ウ"].startswith("指摘あり（1件、最大: 重大）")
    assert states["R2.6.2イ"].startswith("指摘あり")
    assert states["P5"] == "適合"
    assert states["R1.2"].startswith("自動評価の対象外")
    assert report.findings == [
        [
            "R2.7ウ",
            "重大",
            report.findings[0][2],
            report.findings[0][3],
            report.findings[0][4],
        ]
    ]
    assert "劣化箇所の写真" in report.findings[0][2] and "ノートPC" in report.findings[0][3]
    assert report.date == to_wareki(timezone.localdate())
    assert report.header_rows[3][1].startswith("令和")
    assert "指摘事項 1件（重大 1件" in report.summary


def test_the_report_is_japanese_whatever_the_screen_language(world, report):
    with translation.override("en"):
        english = documents.content(world.contract)
    assert english.findings[0][1] == "重大" and english.clauses[0][2].startswith("自動評価の対象外")


def test_pdf_renders_with_the_japanese_fonts_embedded(report, tmp_path):
    path = tmp_path / "compliance.pdf"
    path.write_bytes(documents.pdf(report))
    assert 0.005 < dark_fraction_of_pdf_page(str(path)) < 0.5
    fonts = subprocess.run(
        [require_tool("pdffonts"), str(path)], check=True, capture_output=True, text=True
    ).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert {"IPAexMincho", "IPAexGothic"} <= {row[0].split("+")[-1] for row in rows}
    text = flat(
        subprocess.run(
            [require_tool("pdftotext"), str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
    )
    assert "遵守状況報告書" in text and "劣化箇所" in text and "R2.7ウ" in text
    assert to_wareki(timezone.localdate()) in text


def test_docx_opens_in_libreoffice(report, tmp_path):
    soffice = require_tool("soffice")
    path = tmp_path / "compliance.docx"
    path.write_bytes(documents.docx(report))
    result = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
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
    converted = tmp_path / "out" / "compliance.pdf"
    assert converted.exists(), result.stdout + result.stderr
    assert 0.005 < dark_fraction_of_pdf_page(str(converted)) < 0.5
    text = flat(
        subprocess.run(
            [require_tool("pdftotext"), str(converted), "-"], check=True, capture_output=True, text=True
        ).stdout
    )
    assert "遵守状況報告書" in text and "劣化箇所" in text
    assert to_wareki(timezone.localdate()) in text


def test_a_report_without_findings_says_so(world, tmp_path):
    evaluate(world)
    report = documents.content(world.contract)
    assert report.findings == []
    path = tmp_path / "clean.pdf"
    path.write_bytes(documents.pdf(report))
    text = flat(
        subprocess.run(
            [require_tool("pdftotext"), str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
    )
    assert "未解消の指摘事項はありません。" in text


def test_what_people_typed_is_text_in_the_pdf_never_typst_markup(world, tmp_path):
    typed = '#set page(fill: red) *太字* $x$ #read("/etc/passwd")'
    asset = electronic(world, title=typed, important=True)
    Asset.objects.filter(pk=asset.pk).update(location_kind=LocationKind.DEVICE)
    evaluate(world)
    path = tmp_path / "typed.pdf"
    path.write_bytes(documents.pdf(documents.content(world.contract)))
    text = subprocess.run(
        [require_tool("pdftotext"), "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    # The typed text comes out as it was typed (wrapped in its narrow cell), nothing of it interpreted.
    for piece in ("#set page(fill:", '*太字* $x$ #read("/', 'etc/passwd")'):
        assert piece in text, piece
    assert "root:" not in text
