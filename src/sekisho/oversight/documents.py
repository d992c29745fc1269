"""The inspection report (検査結果通知書, R3): the inspection's particulars, the checklist with each clause's
result and note (and the compliance findings open at the time), the findings with their corrective-action
requests and how they were answered — as PDF (Typst, IPAex fonts embedded) and DOCX (python-docx).

Both are written from one ``content()``, in Japanese whatever the screen's language: the report goes from the
orderer to the contractor. Dates are in 和暦.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict, dataclass

from django.utils import timezone, translation

from sekisho.core.wareki import to_wareki
from sekisho.documents.docx import declare_fallbacks as _declare_fallbacks
from sekisho.documents.docx import east_asian_font as _east_asian_font
from sekisho.documents.pdf import render_pdf

from . import duedates
from .models import FindingState, Inspection, InspectionState, ItemResult

TEMPLATE = "inspection_report.typ"
SEVERITY = {"high": "重大", "medium": "中", "low": "軽微"}
NOT_RECORDED = "未記録"


def wareki_datetime(moment: dt.datetime | None) -> str:
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    return f"{to_wareki(local.date())} {local.hour}時{local.minute:02d}分"


@dataclass
class Content:
    title: str
    provisional: str
    date: str
    addressee: str
    issuer: str
    lead: str
    header_rows: list[list[str]]
    tally: list[list[str]]
    checklist_header: list[str]
    checklist: list[list[str]]
    findings_header: list[str]
    findings: list[list[str]]
    summary: str

    def filename(self, ext: str) -> str:
        return f"inspection-report.{ext}"


def _item_note(note: str, total: int, found: list[dict[str, object]]) -> str:
    lines = [note] if note else []
    if total:
        shown = "、".join(
            f"{f.get('subject', '')}（{SEVERITY.get(str(f.get('severity')), f.get('severity'))}）"
            for f in found[:5]
        )
        more = f" ほか{total - 5}件" if total > 5 else ""
        lines.append(f"検査時の未解消の検出事項 {total}件: {shown}{more}")
    return "\n".join(lines)


def content(inspection: Inspection) -> Content:
    """The report's text. *inspection* should come from ``selectors.inspection`` (items and findings loaded)."""
    with translation.override("ja"):
        return _content(inspection)


def _content(inspection: Inspection) -> Content:
    contract = inspection.contract
    items = list(inspection.items.all())
    findings = list(inspection.findings.all())
    completed = inspection.state == InspectionState.COMPLETED
    day = timezone.localdate(inspection.completed_at) if inspection.completed_at else timezone.localdate()
    labels = dict(ItemResult.choices)
    counts = {value: sum(1 for i in items if i.result == value) for value in ItemResult.values}
    unrecorded = sum(1 for i in items if not i.result)
    tally = [[str(labels[value]), f"{counts[value]}項目"] for value in ItemResult.values]
    if unrecorded:
        tally.append([NOT_RECORDED, f"{unrecorded}項目"])
    tally.append(
        [
            "指摘事項（是正要求）",
            f"{len(findings)}件（うち是正確認済 {sum(1 for f in findings if f.state == FindingState.CLOSED)}件）",
        ]
    )
    return Content(
        title="情報管理状況検査結果通知書",
        provisional=""
        if completed
        else f"（{InspectionState(inspection.state).label}の検査の記録であり、結果は確定していません）",
        date=to_wareki(day),
        addressee=f"{contract.contractor.name}　御中",
        issuer=contract.orderer.name,
        lead=(
            f"契約「{contract.title}」について、{inspection.profile_name}に基づき、情報管理の状況を検査"
            f"{'しましたので、その結果を次のとおり通知します。' if completed else 'しています。その記録は次のとおりです。'}"
            f"指摘事項については、是正の内容を期限までに報告してください。"
        ),
        header_rows=[
            ["契約番号", contract.number],
            ["業務名", contract.title],
            ["受注者", contract.contractor.name],
            ["検査番号", inspection.ref],
            ["検査名", inspection.title],
            ["実施予定日", duedates.wareki_with_weekday(inspection.scheduled_on)],
            [
                "実施日時",
                f"{wareki_datetime(inspection.started_at)} 〜 {wareki_datetime(inspection.completed_at)}",
            ],
            ["実施場所", inspection.place or "—"],
            ["検査の範囲・方法", inspection.scope or "—"],
            ["検査員", str(inspection.created_by)],
            ["状態", str(InspectionState(inspection.state).label)],
        ],
        tally=tally,
        checklist_header=["No.", "条項", "項目", "結果", "所見"],
        checklist=[
            [
                str(i.position),
                i.clause_id,
                i.clause_title,
                str(labels[i.result]) if i.result else NOT_RECORDED,
                _item_note(i.note, i.open_findings_total, i.open_findings) or "—",
            ]
            for i in items
        ],
        findings_header=["番号", "条項", "指摘事項", "是正要求（期限）", "是正の内容", "状態"],
        findings=[
            [
                f.ref,
                f.item.clause_id,
                f.description,
                f"{f.corrective_request}\n（期限: {duedates.due(f.due_on).text()}）",
                (f"{f.response}\n（{wareki_datetime(f.responded_at)} 報告）" if f.response else "（未報告）")
                + (f"\n発注者: {f.orderer_note}" if f.orderer_note else ""),
                str(FindingState(f.state).label)
                + (f"\n{wareki_datetime(f.closed_at)}" if f.closed_at else ""),
            ]
            for f in findings
        ],
        summary=inspection.summary,
    )


def pdf(report: Content) -> bytes:
    return render_pdf(TEMPLATE, asdict(report))


def docx(report: Content) -> bytes:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt, RGBColor

    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(18)
    section.left_margin, section.right_margin = Mm(18), Mm(18)
    styles = document.styles
    _east_asian_font(styles["Normal"], "IPAexMincho")
    styles["Normal"].font.size = Pt(10.5)
    for name in ("Title", "Heading 1"):
        _east_asian_font(styles[name], "IPAexGothic")
        styles[name].font.color.rgb = RGBColor(0x1B, 0x2A, 0x41)
    styles["Title"].font.size = Pt(17)
    styles["Heading 1"].font.size = Pt(12.5)
    _declare_fallbacks(document)
    document.core_properties.title = report.title
    document.core_properties.language = "ja-JP"

    def para(text: str, align: int | None = None, size: float | None = None) -> None:
        paragraph = document.add_paragraph()
        run = paragraph.add_run(text)
        if size:
            run.font.size = Pt(size)
        if align is not None:
            paragraph.alignment = align  # type: ignore[assignment]

    def table(header: list[str] | None, rows: list[list[str]], widths: list[float]) -> None:
        tbl = document.add_table(rows=0, cols=len(widths))
        tbl.style = "Table Grid"
        tbl.alignment = WD_TABLE_ALIGNMENT.CENTER
        tbl.autofit = False
        for c, width in enumerate(widths):
            tbl.columns[c].width = Mm(width)
        for r, values in enumerate(([header] if header else []) + rows):
            cells = tbl.add_row().cells
            for c, value in enumerate(values):
                cells[c].width = Mm(widths[c])
                lines = (value or "—").split("\n")
                paragraph = cells[c].paragraphs[0]
                for n, line in enumerate(lines):
                    run = paragraph.add_run(line)
                    run.font.size = Pt(9)
                    run.bold = bool(header) and r == 0
                    if n < len(lines) - 1:
                        run.add_break()

    para(report.date, WD_ALIGN_PARAGRAPH.RIGHT)
    para(report.addressee)
    para(report.issuer, WD_ALIGN_PARAGRAPH.RIGHT)
    heading = document.add_heading(report.title, level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if report.provisional:
        para(report.provisional, WD_ALIGN_PARAGRAPH.CENTER, size=9.5)
    para(report.lead)
    table(None, report.header_rows, [50, 124])
    document.add_heading("検査結果の概要", level=1)
    table(None, report.tally, [70, 104])
    if report.summary:
        para(f"総評: {report.summary}")
    document.add_heading("チェックリスト", level=1)
    table(report.checklist_header, report.checklist, [10, 16, 44, 16, 88])
    document.add_heading("指摘事項と是正要求", level=1)
    if report.findings:
        table(report.findings_header, report.findings, [20, 14, 38, 40, 42, 20])
    else:
        para("指摘事項はありません。")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
