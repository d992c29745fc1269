"""The incident report: the nine items of a personal-information leak report (施行規則8条1項・44条; the same
items serve a report without personal information), the deadlines, the assets and the timeline, as PDF
(Typst, IPAex fonts embedded) and as DOCX (python-docx, for the orderer's Word forms).

Both are written from one ``content()``, in Japanese whatever the screen's language: the report is a
submission to the orderer. Dates are in 和暦.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict, dataclass

from django.utils import timezone, translation

from sekisho.core.wareki import to_wareki
from sekisho.documents.docx import GOTHIC, MINCHO
from sekisho.documents.docx import declare_fallbacks as _declare_fallbacks
from sekisho.documents.docx import east_asian_font as _east_asian_font
from sekisho.documents.pdf import render_pdf
from sekisho.ledger.models import Medium, PersonalCategory

from . import deadlines, selectors
from .models import Incident, IncidentKind, IncidentSettings, IncidentState

TEMPLATE = "incident_report.typ"
ITEM_NAMES = (
    "概要",
    "漏えい等が発生し、又は発生したおそれがある個人情報の項目",
    "本人の数",
    "原因",
    "二次被害又はそのおそれの有無及びその内容",
    "本人への対応の実施状況",
    "公表の実施状況",
    "再発防止策",
    "その他参考となる事項",
)
PENDING = "（調査中）"
STATUS_TEXT = {
    deadlines.Status.MET: "期限内に実施",
    deadlines.Status.LATE: "実施（期限後）",
    deadlines.Status.OVERDUE: "期限超過",
    deadlines.Status.DUE_TODAY: "本日が期限",
    deadlines.Status.OPEN: "未了",
    deadlines.Status.NOT_REQUIRED: "報告義務なし（参考）",
}


def wareki_datetime(moment: dt.datetime | None) -> str:
    if moment is None:
        return "不明"
    local = timezone.localtime(moment)
    return f"{to_wareki(local.date())} {local.hour}時{local.minute:02d}分"


def duration_text(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "—"
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}日{hours}時間{mins}分"
    if hours:
        return f"{hours}時間{mins}分"
    return f"{mins}分" if mins else "1分未満"


@dataclass
class Content:
    title: str
    subtitle: str
    date: str
    addressee: str
    reporter: str
    lead: str
    header_rows: list[list[str]]
    items: list[list[str]]
    deadline_header: list[str]
    deadlines: list[list[str]]
    triggers: str
    asset_header: list[str]
    assets: list[list[str]]
    timeline_header: list[str]
    timeline: list[list[str]]

    @property
    def filename_stem(self) -> str:
        return "incident-report"


def _categories(incident: Incident) -> str:
    if not incident.has_personal_info:
        return "個人情報を含まない"
    chosen = set(incident.personal_categories)
    labels = [str(label) for value, label in PersonalCategory.choices if value in chosen]
    text = "、".join(labels) or "—"
    if incident.personal_sensitive:
        text += "（要配慮個人情報を含む）"
    return text


def _triggers_text(incident: Incident) -> str:
    t = incident.triggers
    if not incident.has_personal_info:
        return "個人情報を含まないため、個人情報保護委員会への報告の対象ではありません。"
    if incident.near_miss:
        return (
            "ヒヤリハット（漏えい等に至っていない）のため、個人情報保護委員会への報告の対象ではありません。"
        )
    facts = [
        ("要配慮個人情報", t.sensitive),
        ("財産的被害のおそれ", t.financial),
        ("不正の目的によるおそれ", t.wrongful_purpose),
        ("本人の数が1,000人超", t.over_business_threshold),
        ("本人の数が100人超（行政機関等）", t.over_public_body_threshold),
    ]
    found = "、".join(name for name, on in facts if on) or "該当なし"
    verdict = "報告義務あり" if t.public_body_report else "報告義務なし"
    note = "（高度な暗号化等の保護措置あり）" if t.encrypted else ""
    return f"報告対象となる事態: {found}{note}。個人情報保護委員会への報告: {verdict}。"


def content(incident: Incident, *, contract_settings: IncidentSettings | None = None) -> Content:
    """The report's text. *incident* should come with its contract and parties (``selectors.incident``)."""
    with translation.override("ja"):
        return _content(incident, contract_settings)


def _content(incident: Incident, contract_settings: IncidentSettings | None) -> Content:
    contract = incident.contract
    personal = incident.has_personal_info
    title = "個人情報漏えい等事案 報告書" if personal else "事故報告書"
    today = timezone.localdate()
    kind = str(IncidentKind(incident.kind).label)
    overview = (
        f"{incident.description}\n"
        f"（種別: {kind}。発生日時: {wareki_datetime(incident.occurred_at)}。"
        f"覚知日時: {wareki_datetime(incident.detected_at)}）"
    )
    other = []
    if incident.corrective_measures:
        other.append(f"是正・補完措置: {incident.corrective_measures}")
    if personal:
        other.append("暗号化等の保護措置: " + ("あり" if incident.encrypted else "なし"))
    if incident.orderer_instruction:
        other.append(f"発注者からの指示: {incident.orderer_instruction}")
    if incident.other_notes:
        other.append(incident.other_notes)
    values = (
        overview,
        _categories(incident),
        f"{incident.personal_count:,}人" if personal and incident.personal_count else "—",
        incident.cause or PENDING,
        incident.secondary_damage or PENDING,
        incident.response_to_individuals or PENDING,
        incident.publication or PENDING,
        incident.prevention or PENDING,
        "\n".join(other) or "—",
    )
    rows = incident.deadlines_for(contract_settings)
    assets = list(incident.assets.all())
    return Content(
        title=title,
        subtitle="（ヒヤリハット）" if incident.near_miss else "",
        date=to_wareki(today),
        addressee=f"{contract.orderer.name}　御中",
        reporter=contract.contractor.name,
        lead=(
            f"契約「{contract.title}」の履行において、次のとおり"
            f"{'ヒヤリハット' if incident.near_miss else '事故'}が発生しましたので報告します。"
        ),
        header_rows=[
            ["契約番号", contract.number],
            ["業務名", contract.title],
            ["事案番号", incident.ref],
            ["件名", incident.title],
            ["状態", str(IncidentState(incident.state).label)],
            ["報告者", str(incident.reported_by)],
            [
                "報告日時（覚知から）",
                f"{wareki_datetime(incident.reported_at)}（{duration_text(incident.time_to_report)}）",
            ],
            [
                "発注者への通知日時（報告から）",
                f"{wareki_datetime(incident.notified_at)}（{duration_text(incident.time_to_notify)}）"
                if incident.notified_at
                else "未通知",
            ],
        ],
        items=[
            [str(n), name, value] for n, (name, value) in enumerate(zip(ITEM_NAMES, values, strict=True), 1)
        ],
        deadline_header=["期限", "基準", "期限日", "状況"],
        deadlines=[
            [
                d.label,
                d.rule,
                to_wareki(d.due),
                STATUS_TEXT[d.status(today)] + (f"（{to_wareki(d.met_on)}）" if d.met_on else ""),
            ]
            for d in rows
        ],
        triggers=_triggers_text(incident),
        asset_header=["台帳番号", "名称", "媒体", "個人情報"],
        assets=[
            [
                a.ref,
                a.title,
                str(Medium(a.medium).label),
                f"あり（{a.personal_count:,}人）"
                if a.has_personal_info and a.personal_count
                else ("あり" if a.has_personal_info else "なし"),
            ]
            for a in assets
        ],
        timeline_header=["日時", "事項", "実施者", "内容"],
        timeline=[
            [wareki_datetime(m.at), m.label, m.actor or "—", m.detail or ""]
            for m in selectors.timeline(incident)
        ],
    )


def pdf(report: Content) -> bytes:
    return render_pdf(TEMPLATE, asdict(report))


# --- DOCX -----------------------------------------------------------------------------------------------------


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
    normal = styles["Normal"]
    _east_asian_font(normal, MINCHO)
    normal.font.size = Pt(10.5)
    for name in ("Title", "Heading 1", "Heading 2"):
        _east_asian_font(styles[name], GOTHIC)
        styles[name].font.color.rgb = RGBColor(0x1B, 0x2A, 0x41)
    styles["Title"].font.size = Pt(18)
    styles["Heading 1"].font.size = Pt(12.5)
    _declare_fallbacks(document)
    document.core_properties.title = report.title
    document.core_properties.language = "ja-JP"

    def para(text: str, align: int | None = None, size: float | None = None, bold: bool = False) -> None:
        paragraph = document.add_paragraph()
        run = paragraph.add_run(text)
        run.bold = bold
        if size:
            run.font.size = Pt(size)
        if align is not None:
            paragraph.alignment = align  # type: ignore[assignment]

    def table(header: list[str] | None, rows: list[list[str]], widths: list[float]) -> None:
        count = len(widths)
        tbl = document.add_table(rows=0, cols=count)
        tbl.style = "Table Grid"
        tbl.alignment = WD_TABLE_ALIGNMENT.CENTER
        tbl.autofit = False
        for c, width in enumerate(widths):
            # The grid's widths are what LibreOffice (and Word, when it lays out a fixed table) use.
            tbl.columns[c].width = Mm(width)
        for r, values in enumerate(([header] if header else []) + rows):
            cells = tbl.add_row().cells
            for c, value in enumerate(values):
                cells[c].width = Mm(widths[c])
                cell_paragraph = cells[c].paragraphs[0]
                for i, line in enumerate((value or "—").split("\n")):
                    run = cell_paragraph.add_run(line)
                    run.font.size = Pt(9.5)
                    if header and r == 0:
                        run.bold = True
                    if i < len((value or "—").split("\n")) - 1:
                        run.add_break()

    para(report.date, WD_ALIGN_PARAGRAPH.RIGHT)
    para(report.addressee)
    para(report.reporter, WD_ALIGN_PARAGRAPH.RIGHT)
    heading = document.add_heading(report.title, level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if report.subtitle:
        para(report.subtitle, WD_ALIGN_PARAGRAPH.CENTER)
    para(report.lead)
    table(None, report.header_rows, [55, 113])
    document.add_heading("報告事項", level=1)
    table(None, report.items, [10, 50, 108])
    document.add_heading("報告期限", level=1)
    table(report.deadline_header, report.deadlines, [36, 60, 32, 40])
    para(report.triggers, size=9)
    if report.assets:
        document.add_heading("対象となった台帳情報", level=1)
        table(report.asset_header, report.assets, [24, 86, 24, 34])
    document.add_heading("経過", level=1)
    table(report.timeline_header, report.timeline, [54, 42, 28, 44])
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
