"""The documents: the construction plan's 情報流出防止対策 section (R1.2) written from the live configuration,
and the return/destruction certificate (R2.5, P9). PDFs render with the IPAex fonts embedded; the Word files
open in LibreOffice."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone

from sekisho.closeout import certificate, documents, plan
from sekisho.closeout.models import CloseOut
from sekisho.devices import services as devices
from sekisho.devices.models import Device
from sekisho.vault.models import Shredding

from ..tools import dark_fraction_of_pdf_page, require_tool
from .conftest import resolve_everything

pytestmark = pytest.mark.django_db


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(path: Path) -> str:
    return flat(
        subprocess.run(
            [require_tool("pdftotext"), str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
    )


def libreoffice_pdf(docx: Path, out: Path) -> Path:
    soffice = require_tool("soffice")
    result = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{out / 'lo-profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out / "converted"),
            str(docx),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    converted = out / "converted" / (docx.stem + ".pdf")
    assert converted.exists(), result.stdout + result.stderr
    return converted


def approve_new_pc(world, name: str) -> Device:
    device = devices.register_device(
        world.contract,
        acting_user=world.staff,
        name=name,
        kind=Device.Kind.DESKTOP,
        os=Device.OS.WINDOWS,
        asset_tag="KZ-2026-77",
    )
    return devices.approve_device(
        device, acting_user=world.manager, approved_until=timezone.now() + dt.timedelta(days=60)
    )


# --- the construction plan ---------------------------------------------------------------------------------------


def test_the_plan_is_written_from_the_live_configuration(world, tmp_path):
    before = plan.content(world.contract)
    device_rows = next(s for s in before.sections if s.number == "3").tables[0].rows
    assert all("設計室PC-07" not in row[0] for row in device_rows)
    before_pdf = tmp_path / "before.pdf"
    before_pdf.write_bytes(plan.pdf(before))

    approve_new_pc(world, "設計室PC-07")
    after = plan.content(world.contract)
    devices_section = next(s for s in after.sections if s.number == "3")
    assert devices_section.tables[0].rows[0][:3] == ["設計室PC-07", "デスクトップPC・Windows", "KZ-2026-77"]
    after_pdf = tmp_path / "after.pdf"
    after_pdf.write_bytes(plan.pdf(after))
    assert "設計室PC-07" in pdf_text(after_pdf) and "設計室PC-07" not in pdf_text(before_pdf)
    docx = tmp_path / "after.docx"
    docx.write_bytes(plan.docx(after))
    import zipfile

    with zipfile.ZipFile(docx) as z:
        assert "設計室PC-07" in z.read("word/document.xml").decode()


def test_the_plan_names_the_managers_the_staff_categories_training_contacts_and_subcontractors(world):
    report = plan.content(world.contract)
    by_number = {s.number: s for s in report.sections}
    managers = by_number["1"].tables[0].rows
    assert managers[0][0] == "情報管理責任者" and managers[0][1] == world.manager.display_name
    assert "誓約書（様式1）第1版" in by_number["1"].paragraphs[1]
    categories = dict(by_number["2"].tables[0].rows)
    assert set(categories) >= {"社員", "短時間特別社員", "派遣労働者", "取締役", "相談役", "顧問"}
    assert [row[0] for row in by_number["8"].tables[0].rows] != ["（研修は登録されていません）"]
    deadlines = dict(by_number["9"].tables[0].rows)
    assert deadlines["発注者への報告"] == "覚知の当日"
    contacts = [row[1] for row in by_number["9"].tables[1].rows]
    assert world.orderer.display_name in contacts and world.manager.display_name in contacts
    subs = by_number["10"].tables[0].rows
    assert subs[0][0] == world.sub_org.name and subs[0][3] == "承諾済"


def test_the_plan_is_japanese_whatever_the_screen_language(world):
    from django.utils import translation

    with translation.override("en"):
        report = plan.content(world.contract)
    categories = dict(next(s for s in report.sections if s.number == "2").tables[0].rows)
    assert "社員" in categories and report.header_rows[-1][1] == "準備中"


def test_plan_pdf_renders_with_the_japanese_fonts_embedded(world, tmp_path):
    path = tmp_path / "plan.pdf"
    path.write_bytes(plan.pdf(plan.content(world.contract)))
    assert path.read_bytes().startswith(b"%PDF-")
    assert 0.005 < dark_fraction_of_pdf_page(str(path)) < 0.5
    fonts = subprocess.run(
        [require_tool("pdffonts"), str(path)], check=True, capture_output=True, text=True
    ).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    assert {"IPAexMincho", "IPAexGothic"} <= {row[0].split("+")[-1] for row in rows}
    assert all("yes" in row for row in rows)
    text = pdf_text(path)
    for heading in (
        "施工計画書（情報流出防止対策）",
        "管理体制",
        "社員等に対する指導",
        "事故発生時の措置",
        "再委託",
    ):
        assert heading in text, heading


def test_plan_docx_opens_in_libreoffice(world, tmp_path):
    path = tmp_path / "plan.docx"
    path.write_bytes(plan.docx(plan.content(world.contract)))
    converted = libreoffice_pdf(path, tmp_path)
    assert 0.005 < dark_fraction_of_pdf_page(str(converted)) < 0.5
    text = pdf_text(converted)
    assert "施工計画書" in text and "情報管理責任者" in text and world.contract.number in text


def test_what_people_typed_is_text_in_the_plan_never_typst_markup(world, tmp_path):
    typed = '#set page(fill: red) *太字* $x$ #read("/etc/passwd")'
    approve_new_pc(world, typed)
    path = tmp_path / "typed.pdf"
    path.write_bytes(plan.pdf(plan.content(world.contract)))
    raw = subprocess.run(
        [require_tool("pdftotext"), str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    # The table cell wraps it (pdftotext reads the columns interleaved), but every piece is there as text.
    for piece in ("#set page(fill: red) *太", "$x$", '#read("/etc/'):
        assert piece in raw, piece
    assert "root:" not in raw


# --- the certificate -----------------------------------------------------------------------------------------------


@pytest.fixture
def certified(world, opened):
    resolve_everything(world, opened)
    certificate.issue_certificate(world.contract, acting_user=world.manager)
    final = certificate.confirm_certificate(world.contract, acting_user=world.orderer, note="確認しました")
    return opened, final


def test_the_certificate_lists_every_asset_its_resolution_and_the_shredding_proof(world, certified):
    ledger, _final = certified
    report = documents.content(CloseOut.objects.get(contract=world.contract))
    refs = [row[0] for row in report.items]
    assert refs == sorted(a.ref for a in ledger.all)
    by_ref = {row[0]: row for row in report.items}
    assert by_ref[ledger.drawing.ref][4] == "返却" and "受領確認" in by_ref[ledger.drawing.ref][6]
    assert (
        by_ref[ledger.drawing_copy.ref][4] == "廃棄"
        and "立会: 倉敷 太郎" in by_ref[ledger.drawing_copy.ref][5]
    )
    assert "削除記録" in by_ref[ledger.report.ref][5] and "廃棄の指示" in by_ref[ledger.report.ref][6]
    shredding = Shredding.objects.get(contract=world.contract)
    facts = dict(report.shredding_rows)
    assert facts["削除記録の番号"] == f"#{shredding.pk}" and shredding.key_ids[0] in facts["削除した契約鍵"]
    assert len(report.hashes) == 2
    assert report.stage == "発注者確認済" and report.signoff[1][1] == world.orderer.display_name


def test_certificate_pdf_renders_and_names_every_asset(world, certified, tmp_path):
    ledger, final = certified
    path = tmp_path / "certificate.pdf"
    path.write_bytes(bytes(final.pdf))
    assert 0.005 < dark_fraction_of_pdf_page(str(path)) < 0.5
    text = pdf_text(path)
    assert "返却・廃棄証明書" in text and "暗号鍵の削除" in text
    for asset in ledger.all:
        assert asset.ref in text


def test_certificate_docx_opens_in_libreoffice(world, certified, tmp_path):
    ledger, final = certified
    path = tmp_path / "certificate.docx"
    path.write_bytes(bytes(final.docx))
    converted = libreoffice_pdf(path, tmp_path)
    assert 0.005 < dark_fraction_of_pdf_page(str(converted)) < 0.5
    text = pdf_text(converted)
    assert "返却・廃棄証明書" in text
    for asset in ledger.all:
        assert asset.ref in text
