"""The SVG charts: drawn in Python, CSP-safe (no style attribute), text escaped, axis from zero."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from sekisho.compliance.charts import Series, _scale, line_chart

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(5)]


def test_a_chart_is_well_formed_svg_with_a_line_per_series_and_no_style():
    svg = line_chart(
        "推移", DAYS, [Series("total", "合計", [3, 4, 2, 2, 1]), Series("high", "重大", [1, 1, 0, 0, 0])]
    )
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.find(f"{SVG}title").text == "推移"
    lines = root.findall(f"{SVG}polyline")
    assert [line.get("stroke") for line in lines] == ["#1b2a41", "#b42318"]
    assert all(len(line.get("points").split()) == 5 for line in lines)
    assert "style" not in svg
    assert "2026-11-05 — 合計: 1, 重大: 0" in root.find(f"{SVG}desc").text


def test_text_is_escaped_and_an_empty_chart_says_why():
    svg = line_chart('<script>alert("x")</script>', [], [], empty_text="記録なし & 未評価")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}text").text == "記録なし & 未評価"


def test_the_y_axis_starts_at_zero_with_at_most_five_whole_steps():
    assert [_scale(v) for v in (0, 1, 3, 7, 12, 180, 4026)] == [
        (1, 1),
        (1, 1),
        (3, 1),
        (8, 2),
        (15, 5),
        (200, 50),
        (5000, 1000),
    ]
    assert _scale(3, 100) == (100, 25)
    svg = line_chart("件数", DAYS, [Series("total", "合計", [0, 1, 3, 2, 2])])
    assert [t for t in ("0", "1", "2", "3") if f">{t}<" in svg] == ["0", "1", "2", "3"]
    assert ">1.5<" not in svg
    svg = line_chart("率", DAYS[:1], [Series("coverage", "率", [87.5])], y_max=100, unit="%")
    assert ">100%<" in svg and ">0%<" in svg and "<circle" in svg
