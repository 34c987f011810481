"""Server-side SVG charts with pygal (no JavaScript, nothing from a CDN)."""

import re

import pygal
from pygal.style import Style

from kameng.console.selectors import Table

STYLE = Style(
    title_font_size=22,
    label_font_size=14,
    major_label_font_size=14,
    legend_font_size=14,
    value_font_size=14,
    background="transparent",
    plot_background="transparent",
    colors=("#c2410c", "#2563eb", "#16a34a", "#9333ea", "#ca8a04", "#0891b2"),
    font_family="'Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif",
)
_SCRIPT = re.compile(r"<script.*?</script>", re.S)


def _render(chart) -> str:
    # pygal adds an inline configuration script for its optional tooltips; the charts do not need it. Its hidden
    # hover layers carry a style attribute, which the Content-Security-Policy refuses; the SVG attribute is the same.
    svg = _SCRIPT.sub("", chart.render(is_unicode=True))
    return svg.replace('style="opacity: 0"', 'opacity="0"')


def _chart(kind, title: str, **options):
    return kind(
        title=title,
        style=STYLE,
        js=[],
        disable_xml_declaration=True,
        height=320,
        explicit_size=False,
        **options,
    )


def bar(table: Table, title: str) -> str:
    chart = _chart(pygal.HorizontalBar, title, legend_at_bottom=True)
    for label, value in table.rows:
        chart.add(str(label), value)
    return _render(chart)


def lines(table: Table, title: str) -> str:
    chart = _chart(pygal.Line, title, x_label_rotation=30, show_minor_x_labels=True)
    chart.x_labels = [row[0] for row in table.rows]
    for column, name in enumerate(table.header[1:], start=1):
        chart.add(name, [row[column] for row in table.rows])
    return _render(chart)


def with_nonce(svg: str, nonce: str) -> str:
    """pygal styles its SVG with an inline <style>; the page's Content-Security-Policy lets it in by the nonce."""
    return svg.replace("<style", f'<style nonce="{nonce}"')


def pie(table: Table, title: str, label_columns: int = 2) -> str:
    chart = _chart(pygal.Pie, title, inner_radius=0.45)
    for row in table.rows:
        chart.add(" · ".join(str(v) for v in row[:label_columns]), row[-1])
    return _render(chart)


def gauge(value: float | None, title: str) -> str:
    chart = _chart(pygal.SolidGauge, title, half_pie=True, show_legend=False)
    chart.value_formatter = lambda x: f"{x:.1f} %"
    if value is not None:  # no data in the range: pygal says so instead of drawing a misleading 0 %
        chart.add(title, [{"value": value, "max_value": 100}])
    return _render(chart)
