"""The report document: PDF rendered with the IPAex fonts embedded; DOCX that LibreOffice opens, with the
Japanese font set on its styles; the nine items, the deadlines in 和暦 and the timeline in both."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import zipfile

import pytest
from django.utils import timezone

from sekisho.core.wareki import to_wareki
from sekisho.incidents import documents, selectors, services
from sekisho.incidents.deadlines import final_report_due, prompt_report_due

from ..tools import dark_fraction_of_pdf_page, require_tool
from .conftest import at, lost_usb, no_personal

pytestmark = pytest.mark.django_db

SHORT_NAMES = ("概要", "項目", "本人の数", "原因", "二次被害", "本人への対応", "公表", "再発防止策", "その他")
AWARE = dt.date(2025, 12, 26)  # a Friday before the year-end closure (in the past, so it can be reported)


def flat(text: str) -> str:
    """Table cells wrap lines; compare text without the breaks."""
    return re.sub(r"\s+", "", text)


@pytest.fixture
def report(world):
    incident = services.report_incident(
        world.contract,
        acting_user=world.staff,
        data=lost_usb(detected_at=at(AWARE, 17, 30), occurred_at=at(AWARE, 15)),
    )
    incident = services.start_investigation(incident, acting_user=world.manager, note="聞き取りを開始")
    incident = services.record_cause(
        incident,
        acting_user=world.manager,
        cause="持出し時に鞄の口が開いていた",
        secondary_damage="現時点で確認されていない",
    )
    return documents.content(selectors.incident(world.orderer, world.contract, incident.pk))


def test_content_has_the_nine_items_the_deadlines_in_wareki_and_the_timeline(report):
    assert report.title == "個人情報漏えい等事案 報告書"
    assert [row[0] for row in report.items] == [str(n) for n in range(1, 10)]
    for name, row in zip(SHORT_NAMES, report.items, strict=True):
        assert name in row[1]
    assert report.items[1][2] == "氏名、住所"
    assert report.items[2][2] == "150人"
    assert report.items[3][2] == "持出し時に鞄の口が開いていた"
    assert report.items[5][2] == "（調査中）"
    dues = [row[2] for row in report.deadlines]
    assert dues == [
        "令和7年12月26日",
        to_wareki(prompt_report_due(AWARE)),
        to_wareki(final_report_due(AWARE, wrongful_purpose=False)),
    ]
    assert dues[1:] == ["令和8年1月6日", "令和8年1月26日"]
    labels = [row[1] for row in report.timeline]
    assert labels == ["発生", "覚知", "報告", "発注者へ通知", "調査開始", "原因の記録"]
    assert report.timeline[1][0] == "令和7年12月26日 17時30分"
    assert "報告義務あり" in report.triggers and "100人超" in report.triggers


def test_a_report_without_personal_information_is_an_accident_report(world):
    incident = services.report_incident(
        world.contract, acting_user=world.staff, data=no_personal(near_miss=True)
    )
    report = documents.content(selectors.incident(world.manager, world.contract, incident.pk))
    assert report.title == "事故報告書" and report.subtitle == "（ヒヤリハット）"
    assert report.items[1][2] == "個人情報を含まない"
    assert len(report.deadlines) == 1


def test_the_report_is_japanese_whatever_the_screen_language(world, report):
    from django.utils import translation

    incident = services.report_incident(world.contract, acting_user=world.staff, data=lost_usb())
    with translation.override("en"):
        english_screen = documents.content(selectors.incident(world.orderer, world.contract, incident.pk))
    assert english_screen.deadlines[0][0] == "発注者への報告"
    assert english_screen.header_rows[4][1] == "発注者へ通知済"


def test_pdf_renders_with_the_japanese_fonts_embedded(report, tmp_path):
    path = tmp_path / "report.pdf"
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
    assert "個人情報漏えい等事案報告書" in text
    for name in SHORT_NAMES:
        assert name in text, name
    assert "令和8年1月26日" in text and "持出し時に鞄の口が開いていた" in text


def test_docx_sets_the_japanese_font_on_its_styles(report, tmp_path):
    path = tmp_path / "report.docx"
    path.write_bytes(documents.docx(report))
    with zipfile.ZipFile(path) as docx:
        styles = docx.read("word/styles.xml").decode()
        font_table = docx.read("word/fontTable.xml").decode()
    assert 'w:eastAsia="IPAexMincho"' in styles and 'w:eastAsia="IPAexGothic"' in styles
    assert 'w:altName w:val="MS Mincho"' in font_table


def test_docx_opens_in_libreoffice(report, tmp_path):
    soffice = require_tool("soffice")
    path = tmp_path / "report.docx"
    path.write_bytes(documents.docx(report))
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
    converted = tmp_path / "out" / "report.pdf"
    assert converted.exists(), result.stdout + result.stderr
    assert 0.005 < dark_fraction_of_pdf_page(str(converted)) < 0.5
    text = flat(
        subprocess.run(
            [require_tool("pdftotext"), str(converted), "-"], check=True, capture_output=True, text=True
        ).stdout
    )
    assert "個人情報漏えい等事案報告書" in text
    for name in SHORT_NAMES:
        assert name in text, name
    assert "令和8年1月6日" in text


def test_durations_read_as_japanese():
    assert documents.duration_text(dt.timedelta(seconds=20)) == "1分未満"
    assert documents.duration_text(dt.timedelta(minutes=75)) == "1時間15分"
    assert documents.duration_text(dt.timedelta(days=2, minutes=5)) == "2日0時間5分"
    assert documents.duration_text(None) == "—"
    assert (
        documents.wareki_datetime(timezone.make_aware(dt.datetime(2019, 5, 1, 9, 5)))
        == "令和元年5月1日 9時05分"
    )


def test_what_people_typed_is_text_in_the_pdf_never_typst_markup(world, tmp_path):
    typed = '#set page(fill: red) *太字* $x$ #read("/etc/passwd") <label> @ref'
    incident = services.report_incident(
        world.contract, acting_user=world.staff, data=no_personal(title=typed, description=typed)
    )
    report = documents.content(selectors.incident(world.manager, world.contract, incident.pk))
    path = tmp_path / "typed.pdf"
    path.write_bytes(documents.pdf(report))
    text = subprocess.run(
        [require_tool("pdftotext"), str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "#set page(fill: red) *太字* $x$" in text
    assert "root:" not in text
