from __future__ import annotations

import subprocess

import pytest

from sekisho.documents.pdf import DocumentError, render_pdf

from ..tools import dark_fraction_of_pdf_page, require_tool

DATA = {
    "title": "誓約書（テスト）",
    "date": "令和8年6月1日",
    "rows": [
        ["契約番号", "倉下建第2026-118号"],
        ["業務名", "令和8年度 倉敷処理区下水道管渠調査設計業務委託"],
    ],
    "body": "受注者は、本業務の履行に当たり、行政情報流出防止対策に係る取扱規定を遵守することを誓約します。"
    * 3,
}


@pytest.fixture
def sample_pdf(tmp_path):
    path = tmp_path / "sample.pdf"
    path.write_bytes(render_pdf("sample.typ", DATA))
    return path


def test_pdf_embeds_the_shipped_japanese_fonts(sample_pdf):
    assert sample_pdf.read_bytes().startswith(b"%PDF-")
    fonts = subprocess.run(
        [require_tool("pdffonts"), str(sample_pdf)], check=True, capture_output=True, text=True
    ).stdout
    rows = [line.split() for line in fonts.splitlines()[2:]]
    names = {row[0].split("+")[-1] for row in rows}
    assert {"IPAexMincho", "IPAexGothic"} <= names
    # Column "emb" is "yes" for every font: nothing depends on the reader's system fonts.
    assert all("yes" in row for row in rows)


def test_pdf_text_is_the_japanese_we_put_in(sample_pdf):
    text = subprocess.run(
        [require_tool("pdftotext"), str(sample_pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "誓約書（テスト）" in text
    assert "倉敷処理区下水道管渠調査設計業務委託" in text


def test_pdf_page_renders_with_visible_text(sample_pdf):
    assert 0.005 < dark_fraction_of_pdf_page(str(sample_pdf)) < 0.5


def test_a_broken_template_is_a_document_error(tmp_path):
    bad = tmp_path / "bad.typ"
    bad.write_text("#let x = (", encoding="utf-8")
    with pytest.raises(DocumentError):
        render_pdf(bad, {})
