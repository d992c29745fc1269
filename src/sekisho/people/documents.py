"""The people documents: the pledge (誓約書 様式1) as PDF and DOCX, and the letter that reminds a leaver of
the obligations that continue (R2.4.2, P2, P3)."""

from __future__ import annotations

import io
from typing import Any

from django.utils import timezone

from sekisho.core.models import Contract
from sekisho.core.wareki import to_wareki
from sekisho.documents.pdf import render_pdf

from . import texts
from .models import LeavingKind, Pledge, RosterEntry

PDF_CONTENT_TYPE = "application/pdf"
DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def pledge_data(pledge: Pledge) -> dict[str, Any]:
    return {**pledge.content, "sha256": pledge.content_sha256, "draft": False}


def draft_data(content: dict[str, Any]) -> dict[str, Any]:
    return {**content, "sha256": None, "draft": True}


def pledge_pdf(data: dict[str, Any]) -> bytes:
    return render_pdf("pledge.typ", data)


def pledge_filename(contract: Contract, pledge: Pledge | None, ext: str) -> str:
    suffix = f"v{pledge.version}" if pledge is not None else "draft"
    return f"pledge-{contract.pk}-{suffix}.{ext}"


def leaver_letter_pdf(entry: RosterEntry, *, manager_name: str) -> bytes:
    contract = entry.contract
    left_at = timezone.localtime(entry.left_at) if entry.left_at else None
    return render_pdf(
        "leaver_letter.typ",
        {
            "date_wareki": to_wareki(timezone.localdate()),
            "name": entry.name,
            "organisation": entry.organisation.name,
            "contractor": contract.contractor.name,
            "manager": manager_name,
            "contract": {
                "number": contract.number,
                "title": contract.title,
                "orderer": contract.orderer.name,
            },
            "left_on": to_wareki(left_at.date()) if left_at else "",
            "kind": str(LeavingKind(entry.leaving_kind).label) if entry.leaving_kind else "",
            "obligations": texts.EXIT_OBLIGATIONS_TEXT,
            "obligations_sha256": texts.sha256_text(texts.EXIT_OBLIGATIONS_TEXT),
            "ack": (
                {
                    "typed_name": entry.exit_ack_name,
                    "at": timezone.localtime(entry.exit_ack_at).isoformat(timespec="seconds"),
                }
                if entry.exit_ack_at
                else None
            ),
        },
    )


def pledge_docx(data: dict[str, Any]) -> bytes:
    """The same pledge as a Word file, for orderers whose forms are kept in Word."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "IPAexMincho"
    style.font.size = Pt(10.5)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "IPAexMincho")

    def para(text: str = "", *, align: Any = None, size: float | None = None, bold: bool = False) -> None:
        p = doc.add_paragraph()
        run = p.add_run(text)
        run.bold = bold
        if size:
            run.font.size = Pt(size)
        if align is not None:
            p.alignment = align

    def table(rows: list[tuple[str, str]]) -> None:
        t = doc.add_table(rows=0, cols=2)
        t.style = "Table Grid"
        for key, value in rows:
            cells = t.add_row().cells
            cells[0].text, cells[1].text = key, value or "―"

    def person(p: dict[str, str] | None) -> list[tuple[str, str]]:
        if p is None:
            return [("氏名", "―")]
        return [
            ("氏名", p["name"]),
            ("所属・役職", "　".join(v for v in (p["department"], p["position"]) if v)),
            ("連絡先", p["contact"]),
        ]

    para(data["form"])
    para(data["date_wareki"], align=WD_ALIGN_PARAGRAPH.RIGHT)
    para(f"{data['addressee']}　様")
    contractor = data["contractor"]
    for line in (
        f"住所　{contractor['address']}",
        f"商号又は名称　{contractor['name']}",
        f"代表者　{contractor['representative']}" + ("　　㊞" if data["seal_box"] else ""),
    ):
        para(line, align=WD_ALIGN_PARAGRAPH.RIGHT)
    para("誓　約　書", align=WD_ALIGN_PARAGRAPH.CENTER, size=18, bold=True)
    para(
        "　当社は、下記業務の履行に当たり、「行政情報流出防止対策に係る取扱規定」及び別記「個人情報取扱特記事項」を"
        "遵守し、次の事項を誓約します。また、情報管理責任者及び個人情報保護管理責任者を下記のとおり選任し、配置したので"
        "報告します。"
    )
    para("記", align=WD_ALIGN_PARAGRAPH.CENTER)
    c = data["contract"]
    para("1　業務", bold=True)
    table(
        [
            ("契約番号", c["number"]),
            ("業務名", c["title"]),
            ("履行期間", f"{c['period'][0]}　〜　{c['period'][1]}"),
            ("発注者", c["orderer"]),
        ]
    )
    para("2　情報管理責任者", bold=True)
    table(person(data["info_manager"]))
    para("3　個人情報保護管理責任者", bold=True)
    table(person(data["pi_manager"]))
    para("4　誓約事項", bold=True)
    for n, item in enumerate(data["items"], 1):
        para(f"({n})　{item}")
    para("5　本業務に従事する社員等", bold=True)
    para(f"別紙「社員等名簿」のとおり（{len(data['roster'])} 名）。")
    para("電子署名", bold=True)
    if data["draft"]:
        para("この誓約書は案です。署名されていません。")
    else:
        sig = data["signature"]
        table(
            [
                ("署名者", f"{sig['typed_name']}（{sig['username']}）"),
                ("署名日時", sig["signed_at"]),
                ("版", f"第{data['version']}版"),
                ("SHA-256", data["sha256"]),
            ]
        )
    doc.add_page_break()
    para("別紙　社員等名簿", align=WD_ALIGN_PARAGRAPH.CENTER, size=14, bold=True)
    headers = ("No.", "氏名", "所属組織", "区分", "所属部署・役職", "従事開始日")
    roster = doc.add_table(rows=1, cols=len(headers))
    roster.style = "Table Grid"
    for cell, header in zip(roster.rows[0].cells, headers, strict=True):
        cell.text = header
    for n, r in enumerate(data["roster"], 1):
        values = (
            str(n),
            r["name"],
            r["organisation"],
            r["category"],
            "　".join(v for v in (r["department"], r["position"]) if v),
            r["started_on"],
        )
        for cell, value in zip(roster.add_row().cells, values, strict=True):
            cell.text = value
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
