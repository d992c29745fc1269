"""A small Word writer for the close-out certificate and the construction-plan section (python-docx): A4, IPAex
Mincho body and IPAex Gothic headings set as the East Asian font (with MS Mincho / MS Gothic named as the
fallback in the font table, for a PC without the IPAex fonts), tables with fixed column widths."""

from __future__ import annotations

import io
import re

from sekisho.documents.docx import GOTHIC, MINCHO
from sekisho.documents.docx import declare_fallbacks as _declare_fallbacks
from sekisho.documents.docx import east_asian_font as _east_asian_font

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """XML 1.0 cannot carry most control characters; a cell shows them as nothing."""
    return _NOT_XML.sub("", text)


class Writer:
    """One Word document, written top to bottom."""

    def __init__(self, title: str, *, landscape: bool = False) -> None:
        from docx import Document
        from docx.enum.section import WD_ORIENT
        from docx.shared import Mm, Pt, RGBColor

        self.document = Document()
        section = self.document.sections[0]
        if landscape:
            section.orientation = WD_ORIENT.LANDSCAPE
            section.page_width, section.page_height = Mm(297), Mm(210)
        else:
            section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(20), Mm(18)
        section.left_margin, section.right_margin = Mm(18), Mm(18)
        styles = self.document.styles
        _east_asian_font(styles["Normal"], MINCHO)
        styles["Normal"].font.size = Pt(10)
        for name in ("Title", "Heading 1", "Heading 2"):
            _east_asian_font(styles[name], GOTHIC)
            styles[name].font.color.rgb = RGBColor(0x1B, 0x2A, 0x41)
        styles["Title"].font.size = Pt(17)
        styles["Heading 1"].font.size = Pt(12.5)
        styles["Heading 2"].font.size = Pt(11)
        _declare_fallbacks(self.document)
        self.document.core_properties.title = title
        self.document.core_properties.language = "ja-JP"

    def para(self, text: str, *, align: str = "", size: float | None = None, bold: bool = False) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Pt

        paragraph = self.document.add_paragraph()
        lines = (text or "").split("\n")
        for n, line in enumerate(lines):
            run = paragraph.add_run(line)
            run.bold = bold
            if size:
                run.font.size = Pt(size)
            if n < len(lines) - 1:
                run.add_break()
        if align:
            paragraph.alignment = {"right": WD_ALIGN_PARAGRAPH.RIGHT, "center": WD_ALIGN_PARAGRAPH.CENTER}[
                align
            ]

    def title(self, text: str) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH

        heading = self.document.add_heading(text, level=0)
        heading.alignment = WD_ALIGN_PARAGRAPH.CENTER

    def heading(self, text: str, level: int = 1) -> None:
        self.document.add_heading(text, level=level)

    def table(
        self, header: list[str] | None, rows: list[list[str]], widths: list[float], size: float = 9
    ) -> None:
        """A grid table with fixed column widths (the grid's widths are what LibreOffice and Word lay out).

        The rows are written as WordprocessingML directly: python-docx's ``add_row``/``cells`` take
        milliseconds a row, and a certificate lists every asset of a ledger of thousands."""
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.oxml.ns import qn
        from docx.shared import Mm
        from lxml import etree

        table = self.document.add_table(rows=0, cols=len(widths))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        for c, width in enumerate(widths):
            table.columns[c].width = Mm(width)
        twips = [str(int(Mm(w).twips)) for w in widths]
        half_points = str(round(size * 2))
        tbl = table._tbl
        sub = etree.SubElement
        space = "{http://www.w3.org/XML/1998/namespace}space"

        def add(values: list[str], bold: bool) -> None:
            tr = sub(tbl, qn("w:tr"))
            for c, value in enumerate(values):
                tc = sub(tr, qn("w:tc"))
                sub(sub(tc, qn("w:tcPr")), qn("w:tcW"), {qn("w:w"): twips[c], qn("w:type"): "dxa"})
                run = sub(sub(tc, qn("w:p")), qn("w:r"))
                rpr = sub(run, qn("w:rPr"))
                if bold:
                    sub(rpr, qn("w:b"))
                sub(rpr, qn("w:sz"), {qn("w:val"): half_points})
                sub(rpr, qn("w:szCs"), {qn("w:val"): half_points})
                for n, line in enumerate((value or "—").split("\n")):
                    if n:
                        sub(run, qn("w:br"))
                    sub(run, qn("w:t"), {space: "preserve"}).text = _xml_safe(line)

        if header:
            add(header, True)
        for values in rows:
            add(values, False)

    def bytes(self) -> bytes:
        out = io.BytesIO()
        self.document.save(out)
        return out.getvalue()
