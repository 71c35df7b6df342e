"""A :class:`~bi_app.reports.model.Report` as a PDF: HTML with CSS paged media, laid out by
WeasyPrint.

What paged media gives: the period and generation time in the margin of every page, "Page N of
M" from ``counter(page)`` / ``counter(pages)``, table headers repeated on every page a table
spans (``thead`` is a table-header-group), rows never split across pages, and the fonts embedded
as subsets. Text uses Noto Sans CJK KR first, so Hangul renders (Debian's ``fonts-noto-cjk``
must be installed where reports are rendered). Charts are SVG from kaleido (:mod:`.charts`),
drawn as vectors; a chart that cannot be rendered leaves a short notice in its place.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import logging
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import flask
import jinja2
from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from bi_app import i18n
from bi_app.i18n import N_, _
from bi_app.reports import charts
from bi_app.reports.model import ColumnKind, Kpi, Report

log = logging.getLogger(__name__)

FONT_STACK = '"Noto Sans CJK KR", "Noto Sans", sans-serif'
CHART_WIDTH, CHART_HEIGHT = 900, 420  # CSS px of the SVG; scaled to the text width

DEFAULT_LABELS = {
    "page": N_("Page %(page)s of %(pages)s"),
    "generated": N_("Generated %(when)s"),
    "vs_previous": N_("vs previous period"),
    "vs_last_year": N_("vs last year"),
    "contents": N_("Contents"),
}
CHART_UNAVAILABLE = N_("This chart could not be rendered.")
RECOMMENDATION = N_("Recommendation")
KEY_FIGURES = N_("Key figures")
SEVERITY = {
    "info": N_("Note"),
    "good": N_("Good"),
    "warning": N_("Warning"),
    "critical": N_("Critical"),
}


# --- formatting ----------------------------------------------------------------------------------


def format_value(value: Any, kind: ColumnKind, locale: str, currency: str) -> str:
    """A table cell or KPI as text in ``locale``: None is an empty string."""
    if value is None:
        return ""
    if kind == "text":
        return str(value)
    if kind in ("date", "datetime"):
        if isinstance(value, dt.datetime):
            return format_when(value, locale)
        if isinstance(value, dt.date):
            return i18n.format_date(value, locale)
        return str(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return str(value)
    if kind == "money":
        decimals = i18n.currency_decimals(currency)
        return i18n.format_money(Decimal(str(value)).scaleb(decimals), currency, locale)
    if kind == "percent":
        return i18n.format_percent(value, locale)
    if kind == "int":
        return i18n.format_number(value, locale)
    try:  # "number": up to two decimals, as many as it has
        return babel_numbers.format_decimal(value, format="#,##0.##", locale=locale)
    except (ValueError, TypeError, ArithmeticError):
        return i18n.not_available()


def format_when(value: dt.datetime, locale: str) -> str:
    """A local date and time without seconds: ``Dec 5, 2026, 09:30`` / ``2026. 12. 5. 09:30``."""
    pattern = str(Locale.parse(locale).datetime_formats["medium"])  # "{1}, {0}" / "{1} {0}"
    day = i18n.format_date(value.date(), locale)
    return pattern.replace("{1}", day).replace("{0}", babel_dates.format_time(value, "HH:mm"))


def format_change(fraction: float | None, locale: str) -> str:
    """A fractional change with its sign (``0.123`` -> ``+12.3%``); None -> ``""``."""
    if fraction is None:
        return ""
    return i18n.format_change(fraction * 100, locale)


def _css_string(text: str) -> str:
    """``text`` as a quoted CSS string: everything but letters, digits and spaces as a hex
    escape, so no quote, backslash or ``</style>`` in report data can leave the string."""
    out = []
    for char in text:
        if char.isascii() and (char.isalnum() or char == " "):
            out.append(char)
        else:
            out.append(f"\\{ord(char):06x} ")  # the space ends the escape, is not text
    return '"' + "".join(out) + '"'


_PLACEHOLDER = re.compile(r"%\((page|pages)\)s")


def _page_content(template: str) -> str:
    """``"Page %(page)s of %(pages)s"`` -> ``"Page " counter(page) " of " counter(pages)``."""
    parts: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > position:
            parts.append(_css_string(template[position : match.start()]))
        parts.append(f"counter({match.group(1)})")
        position = match.end()
    if position < len(template):
        parts.append(_css_string(template[position:]))
    return " ".join(parts) or "counter(page)"


# --- the document --------------------------------------------------------------------------------

_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ report.locale }}">
<head>
<meta charset="utf-8">
<title>{{ report.title }}</title>
<style>
@page {
  size: A4;
  margin: 20mm 15mm 18mm 15mm;
  @top-left { content: {{ css.period | safe }}; font: 7.5pt {{ font | safe }}; color: #555; }
  @top-right { content: {{ css.generated | safe }}; font: 7.5pt {{ font | safe }}; color: #555; }
  @bottom-left { content: {{ css.title | safe }}; font: 7.5pt {{ font | safe }}; color: #777; }
  @bottom-right { content: {{ css.page | safe }}; font: 7.5pt {{ font | safe }}; color: #555; }
}
html { font-family: {{ font | safe }}; font-size: 9.5pt; color: #1f2933; line-height: 1.35; }
h1 { font-size: 22pt; margin: 18mm 0 2mm; color: #0b3d91; }
h2 { font-size: 14pt; margin: 7mm 0 3mm; padding-bottom: 1mm; border-bottom: 1.5pt solid #0b3d91;
     color: #0b3d91; break-after: avoid; }
h3 { font-size: 10.5pt; margin: 4mm 0 1.5mm; break-after: avoid; }
.cover { break-after: page; }
.cover .period { font-size: 13pt; margin: 0; }
.cover .filters { font-size: 11pt; margin: 1mm 0 0; color: #334e68; }
.cover .generated { color: #555; margin: 1mm 0 9mm; }
.kpis { display: flex; flex-wrap: wrap; gap: 3mm; margin: 2mm 0 4mm; }
.kpi { box-sizing: border-box; width: 32%; border: 0.75pt solid #cbd2d9; border-radius: 2mm;
       padding: 2.5mm 3mm; break-inside: avoid; }
.cover .kpi { width: 48%; }
.kpi .label { color: #52606d; font-size: 8.5pt; }
.kpi .value { font-size: 15pt; font-weight: bold; margin: 0.5mm 0; }
.cover .kpi .value { font-size: 19pt; }
.kpi .change { font-size: 8pt; color: #52606d; }
.up { color: #1e7b34; }
.down { color: #b42318; }
.contents { margin-top: 8mm; }
.contents ol { padding-left: 5mm; }
.contents a { color: inherit; text-decoration: none; }
.contents a::after { content: leader(".") target-counter(attr(href), page); }
figure { margin: 2mm 0 4mm; break-inside: avoid; }
figure img { width: 100%; }
figcaption { font-size: 8.5pt; color: #52606d; }
.chart-missing { border: 0.75pt dashed #9aa5b1; padding: 6mm; text-align: center; color: #52606d; }
table { width: 100%; border-collapse: collapse; margin: 1mm 0 2mm; font-size: 8.5pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th { background: #e4ecf7; text-align: left; font-weight: bold; padding: 1.2mm 1.5mm;
     border-bottom: 0.75pt solid #7b8794; }
td { padding: 1mm 1.5mm; border-bottom: 0.5pt solid #e4e7eb; }
th.num, td.num { text-align: right; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #f7f9fb; }
.note, .message { color: #52606d; font-size: 8.5pt; }
.insight { border-left: 2.5pt solid #7b8794; padding: 1mm 3mm; margin: 2mm 0; break-inside: avoid; }
.insight.good { border-color: #1e7b34; }
.insight.warning { border-color: #d97706; }
.insight.critical { border-color: #b42318; }
.insight .severity { font-weight: bold; }
.insight .recommendation { color: #334e68; margin-top: 0.5mm; }
</style>
</head>
<body>
{% macro kpi_cards(kpis) %}
<div class="kpis">
{% for kpi in kpis %}
  {% set k = fmt_kpi(kpi) %}
  <div class="kpi">
    <div class="label">{{ kpi.label }}</div>
    <div class="value">{{ k.value }}</div>
    {% if k.previous %}
    <div class="change"><span class="{{ k.previous_class }}">{{ k.previous }}</span>
      {{ labels.vs_previous }}</div>
    {% endif %}
    {% if k.last_year %}
    <div class="change"><span class="{{ k.last_year_class }}">{{ k.last_year }}</span>
      {{ labels.vs_last_year }}</div>
    {% endif %}
  </div>
{% endfor %}
</div>
{% endmacro %}
<section class="cover">
  <h1>{{ report.title }}</h1>
  <p class="period">{{ report.period_label }}</p>
  {% if report.filters_label %}<p class="filters">{{ report.filters_label }}</p>{% endif %}
  <p class="generated">{{ generated }}</p>
  {% if report.cover_kpis %}
  <h2>{{ text.key_figures }}</h2>
  {{ kpi_cards(report.cover_kpis) }}
  {% endif %}
  {% if report.sections %}
  <nav class="contents">
    <h2>{{ labels.contents }}</h2>
    <ol>
    {% for section in report.sections %}
      <li><a href="#section-{{ loop.index }}">{{ section.title }}</a></li>
    {% endfor %}
    </ol>
  </nav>
  {% endif %}
</section>
{% for section in sections %}
<section class="section" id="section-{{ loop.index }}">
  <h2>{{ section.title }}</h2>
  {% if section.kpis %}{{ kpi_cards(section.kpis) }}{% endif %}
  {% for chart in section.charts %}
  <figure>
    {% if chart.title != section.title %}<h3>{{ chart.title }}</h3>{% endif %}
    {% if chart.svg %}
    <img src="data:image/svg+xml;base64,{{ chart.svg }}" alt="{{ chart.title }}">
    {% else %}
    <div class="chart-missing">{{ text.chart_unavailable }}</div>
    {% endif %}
    {% if chart.caption %}<figcaption>{{ chart.caption }}</figcaption>{% endif %}
  </figure>
  {% endfor %}
  {% for table in section.tables %}
  {% if table.title != section.title %}<h3>{{ table.title }}</h3>{% endif %}
  <table>
    <thead><tr>
    {% for column in table.columns %}
      <th class="{{ column.align }}">{{ column.label }}</th>
    {% endfor %}
    </tr></thead>
    <tbody>
    {% for row in table.rows %}
      <tr>{% for cell in row -%}
        <td class="{{ table.columns[loop.index0].align }}">{{ cell }}</td>
      {%- endfor %}</tr>
    {% endfor %}
    </tbody>
  </table>
  {% if table.note %}<p class="note">{{ table.note }}</p>{% endif %}
  {% endfor %}
  {% for insight in section.insights %}
  <div class="insight {{ insight.severity }}">
    <div><span class="severity">{{ insight.severity_label }}:</span> {{ insight.text }}</div>
    {% if insight.recommendation %}
    <div class="recommendation">{{ text.recommendation }}: {{ insight.recommendation }}</div>
    {% endif %}
  </div>
  {% endfor %}
  {% if section.message %}<p class="message">{{ section.message }}</p>{% endif %}
</section>
{% endfor %}
</body>
</html>
"""

_environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_template = _environment.from_string(_TEMPLATE)
_NUMERIC: frozenset[str] = frozenset({"int", "number", "money", "percent"})


@contextlib.contextmanager
def report_locale(locale: str) -> Iterator[None]:
    """Default texts in the report's language when an app (and its catalogs) is at hand."""
    if flask.has_app_context():
        from flask_babel import force_locale

        with force_locale(locale):
            yield
    else:
        yield


def _chart_svg(figure: Any) -> str | None:
    try:
        svg = charts.figure_to_svg(figure, CHART_WIDTH, CHART_HEIGHT)
    except charts.ChartRenderError as error:
        log.warning("report chart not rendered: %s", error)
        return None
    return base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _decimals(rows: list[dict[str, Any]], key: str) -> int:
    """The decimals (0 to 2) a "number" column needs, the same for all its cells."""
    needed = 0
    for row in rows:
        value = row.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            continue
        for digits in (0, 1):
            if round(float(value), digits) == round(float(value), 2):
                needed = max(needed, digits)
                break
        else:
            return 2
    return needed


def _direction(change: float | None) -> str:
    if change is None or change == 0:
        return ""
    return "up" if change > 0 else "down"


def build_html(report: Report) -> str:
    """The report as one HTML document with its paged-media CSS (charts rendered)."""
    locale = i18n.parse_locale(report.locale) or i18n.DEFAULT_LOCALE
    with report_locale(locale):
        labels = {key: report.labels.get(key) or _(text) for key, text in DEFAULT_LABELS.items()}
        texts = {
            "chart_unavailable": _(CHART_UNAVAILABLE),
            "recommendation": _(RECOMMENDATION),
            "key_figures": _(KEY_FIGURES),
        }
        severities = {key: _(text) for key, text in SEVERITY.items()}
    when = format_when(report.generated_at, locale)
    generated = _substitute(labels["generated"], when=when)

    def fmt(value: Any, kind: ColumnKind) -> str:
        return format_value(value, kind, locale, report.currency)

    def _cell(value: Any, kind: ColumnKind, digits: int | None) -> str:
        if digits is not None and isinstance(value, (int, float, Decimal)) and value is not None:
            return i18n.format_number(value, locale, digits)
        return fmt(value, kind)

    def fmt_kpi(kpi: Kpi) -> dict[str, str]:
        value = fmt(kpi.value, kpi.kind) if kpi.value is not None else i18n.not_available()
        return {
            "value": value,
            "previous": format_change(kpi.vs_previous, locale),
            "previous_class": _direction(kpi.vs_previous),
            "last_year": format_change(kpi.vs_last_year, locale),
            "last_year_class": _direction(kpi.vs_last_year),
        }

    sections = []
    for section in report.sections:
        tables = []
        for table in section.tables:
            columns = [
                {"label": c.label, "align": "num" if c.kind in _NUMERIC else ""}
                for c in table.columns
            ]
            places = [
                _decimals(table.rows, c.key) if c.kind == "number" else None for c in table.columns
            ]
            rows = [
                [_cell(row.get(c.key), c.kind, digits) for c, digits in zip(table.columns, places)]
                for row in table.rows
            ]
            tables.append(
                {"title": table.title, "columns": columns, "rows": rows, "note": table.note}
            )
        sections.append(
            {
                "title": section.title,
                "kpis": section.kpis,
                "charts": [
                    {"title": c.title, "caption": c.caption, "svg": _chart_svg(c.figure)}
                    for c in section.charts
                ],
                "tables": tables,
                "insights": [
                    {
                        "text": i.text,
                        "severity": i.severity,
                        "severity_label": severities.get(i.severity, i.severity),
                        "recommendation": i.recommendation,
                    }
                    for i in section.insights
                ],
                "message": section.message,
            }
        )
    css = {
        # every page's header states the period and, when set, the filters
        "period": _css_string(
            " · ".join(t for t in (report.period_label, report.filters_label) if t)
        ),
        "generated": _css_string(generated),
        "title": _css_string(report.title),
        "page": _page_content(labels["page"]),
    }
    return _template.render(
        report=report,
        sections=sections,
        labels=labels,
        text=texts,
        generated=generated,
        css=css,
        font=FONT_STACK,
        fmt_kpi=fmt_kpi,
    )


def _substitute(template: str, **values: str) -> str:
    """``%(name)s`` placeholders filled; a template that does not fit is shown as it is."""
    try:
        return template % values
    except (KeyError, ValueError, TypeError):
        return template


def render_pdf(report: Report) -> bytes:
    """The report as PDF bytes (A4, fonts embedded as subsets, charts as vectors)."""
    with charts.in_use():  # the browser closes before the layout, the process's own peak
        html = build_html(report)
    # heavy (pango): imported only where PDFs are made, once the chart browser is closed
    import weasyprint

    # no base_url and a fetcher that refuses everything: the document is self-contained
    # (charts are data: URLs), so nothing in report data can make WeasyPrint fetch a URL or file
    fetcher = weasyprint.URLFetcher(allowed_protocols=["data"])
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()


__all__ = [
    "build_html",
    "format_change",
    "format_value",
    "format_when",
    "render_pdf",
    "report_locale",
]
