"""The compliance report (遵守状況報告書): every clause of the contract's active profile with its state and the
open findings, as PDF (Typst, IPAex fonts embedded) and DOCX (python-docx). Written in Japanese whatever the
screen's language, dates in 和暦: it is a report to the orderer (R3) and part of the evidence (R2.9, P11)."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

from django.utils import timezone, translation

from sekisho.core.models import Contract
from sekisho.core.wareki import to_wareki
from sekisho.documents.docx import declare_fallbacks as _declare_fallbacks
from sekisho.documents.docx import east_asian_font as _east_asian_font
from sekisho.documents.pdf import render_pdf
from sekisho.incidents.documents import wareki_datetime

from . import selectors
from .models import Severity
from .profile import active_profile

TEMPLATE = "compliance_report.typ"
STATE_TEXT = {"ok": "適合", "open": "指摘あり", "not_evaluated": "自動評価の対象外（検査で確認）"}
SEVERITY_TEXT: dict[str, str] = {Severity.HIGH: "重大", Severity.MEDIUM: "中", Severity.LOW: "軽微"}


@dataclass
class Content:
    title: str
    date: str
    addressee: str
    reporter: str
    lead: str
    header_rows: list[list[str]]
    summary: str
    clause_header: list[str]
    clauses: list[list[str]]
    finding_header: list[str]
    findings: list[list[str]]
    note: str


def content(contract: Contract) -> Content:
    with translation.override("ja"):
        return _content(contract)


def _content(contract: Contract) -> Content:
    contract = Contract.objects.select_related("orderer", "contractor").get(pk=contract.pk)
    profile = active_profile(contract)
    states = selectors.clause_states(contract, profile)
    findings = list(selectors.open_findings(contract))
    evaluated_at = selectors.last_evaluated_at(contract)
    counts = {s: sum(1 for f in findings if f.severity == s) for s in Severity.values}
    open_clauses = sum(1 for s in states if s.state == "open")
    today = timezone.localdate()
    clause_rows = []
    for state in states:
        if state.total:
            worst = SEVERITY_TEXT.get(state.worst or "", "")
            text = f"{STATE_TEXT['open']}（{state.total}件、最大: {worst}）"
        else:
            text = STATE_TEXT[state.state]
        clause_rows.append([state.clause.id, state.clause.title_ja, text])
    finding_rows = [
        [
            f.clause,
            SEVERITY_TEXT.get(f.severity, f.severity),
            f.subject_label,
            f.message,
            wareki_datetime(f.first_seen_at),
        ]
        for f in sorted(findings, key=lambda f: (_order(profile, f.clause), f.severity, f.first_seen_at))
    ]
    return Content(
        title="行政情報流出防止対策 遵守状況報告書",
        date=to_wareki(today),
        addressee=f"{contract.orderer.name}　御中",
        reporter=contract.contractor.name,
        lead=(
            f"契約「{contract.title}」について、{profile.name_ja}の各条項に対する遵守状況を、"
            "関所（Sekisho）による自動評価の結果に基づき次のとおり報告します。"
        ),
        header_rows=[
            ["契約番号", contract.number],
            ["業務名", contract.title],
            ["受注者", contract.contractor.name],
            ["履行期間", f"{to_wareki(contract.period_start)} 〜 {to_wareki(contract.period_end)}"],
            ["適用する規定", profile.name_ja],
            ["評価日時", wareki_datetime(evaluated_at) if evaluated_at else "未評価"],
        ],
        summary=(
            f"指摘事項 {len(findings)}件（重大 {counts['high']}件、中 {counts['medium']}件、"
            f"軽微 {counts['low']}件）。指摘のある条項 {open_clauses}件／全{len(states)}条項。"
        ),
        clause_header=["条項", "見出し", "状況"],
        clauses=clause_rows,
        finding_header=["条項", "重大度", "対象", "内容", "初回検出"],
        findings=finding_rows,
        note=(
            "「自動評価の対象外」の条項は、システムの統制（拒否・記録）で担保し、発注者の検査で確認するものです。"
            "指摘事項の履歴（検出・解消の日時）は改ざん検知可能な監査記録とともに保存されています。"
        ),
    )


def _order(profile: object, clause_id: str) -> int:
    ids = [c.id for c in profile.clauses]  # type: ignore[attr-defined]
    return ids.index(clause_id) if clause_id in ids else len(ids)


def pdf(report: Content) -> bytes:
    return render_pdf(TEMPLATE, asdict(report))


def docx(report: Content) -> bytes:
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt, RGBColor

    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(22), Mm(20)
    section.left_margin, section.right_margin = Mm(22), Mm(20)
    styles = document.styles
    _east_asian_font(styles["Normal"], "IPAexMincho")
    styles["Normal"].font.size = Pt(10.5)
    for name in ("Title", "Heading 1"):
        _east_asian_font(styles[name], "IPAexGothic")
        styles[name].font.color.rgb = RGBColor(0x1B, 0x2A, 0x41)
    styles["Title"].font.size = Pt(18)
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
                run = cells[c].paragraphs[0].add_run(value or "—")
                run.font.size = Pt(9)
                run.bold = bool(header) and r == 0

    para(report.date, WD_ALIGN_PARAGRAPH.RIGHT)
    para(report.addressee)
    para(report.reporter, WD_ALIGN_PARAGRAPH.RIGHT)
    document.add_heading(report.title, level=0).alignment = WD_ALIGN_PARAGRAPH.CENTER
    para(report.lead)
    table(None, report.header_rows, [45, 123])
    para(report.summary)
    document.add_heading("条項ごとの状況", level=1)
    table(report.clause_header, report.clauses, [22, 76, 70])
    document.add_heading("指摘事項", level=1)
    if report.findings:
        table(report.finding_header, report.findings, [18, 14, 42, 62, 32])
    else:
        para("未解消の指摘事項はありません。")
    para(report.note, size=9)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
