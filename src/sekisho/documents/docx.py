"""Word (python-docx) helpers shared by every generated DOCX: the Japanese fonts set as the East Asian font,
and the font table naming a fallback for a PC without the IPAex fonts."""

from __future__ import annotations

MINCHO = "IPAexMincho"
GOTHIC = "IPAexGothic"
FALLBACK_MINCHO = "MS Mincho"
FALLBACK_GOTHIC = "MS Gothic"


def east_asian_font(style_or_run: object, name: str) -> None:
    """Set the Latin and the East Asian font: Word picks w:eastAsia for Japanese text."""
    from docx.oxml.ns import qn

    font = style_or_run.font  # type: ignore[attr-defined]
    font.name = name
    rpr = style_or_run.element.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), name)
    # A theme font would win over the names set above (the default Title and Heading styles use them).
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)


def declare_fallbacks(document: object) -> None:
    """Name the fonts in the font table with a fallback: Word on a PC without the IPAex fonts uses MS Mincho
    / MS Gothic instead of guessing (LibreOffice reads the same table)."""
    from docx.oxml.ns import qn
    from lxml import etree

    package = document.part.package  # type: ignore[attr-defined]
    part = next(p for p in package.iter_parts() if p.partname == "/word/fontTable.xml")
    root = etree.fromstring(part.blob)
    for name, alternative, family in (
        (MINCHO, FALLBACK_MINCHO, "roman"),
        (GOTHIC, FALLBACK_GOTHIC, "modern"),
    ):
        font = etree.SubElement(root, qn("w:font"), {qn("w:name"): name})
        etree.SubElement(font, qn("w:altName"), {qn("w:val"): alternative})
        etree.SubElement(font, qn("w:charset"), {qn("w:val"): "80"})
        etree.SubElement(font, qn("w:family"), {qn("w:val"): family})
        etree.SubElement(font, qn("w:pitch"), {qn("w:val"): "variable"})
    # python-docx keeps the parts it does not model as plain bytes (Part._blob): rewrite them there.
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
