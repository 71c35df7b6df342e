"""What a report is, independent of how it is rendered: plain data, no Dash, no database.

:mod:`bi_app.reports.content` builds a :class:`Report` for a period from the data layer;
:mod:`bi_app.reports.pdf` and :mod:`bi_app.reports.excel` render one. Texts are already in the
report's language when they are put here (the builders translate); numbers stay numbers, with a
:class:`Column` kind saying how to format them, so each renderer formats them its own way
(the PDF as text in the report's locale, the workbook as typed cells with number formats).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

PeriodKind = Literal["daily", "weekly", "monthly", "custom"]
ColumnKind = Literal["text", "int", "number", "money", "percent", "date", "datetime"]
# "percent" values are fractions (0.125 is 12.5 %); "money" values are in major units of
# Report.currency (a float), "date"/"datetime" values are dt.date / naive local dt.datetime.

SECTIONS = (
    "kpis",
    "trend",
    "sales_breakdown",
    "top_products",
    "customers",
    "events",
    "treasury",
    "forecasts",
    "anomalies",
    "alerts",
    "system",
    "insights",
)


@dataclass(frozen=True)
class Period:
    """Local calendar days ``start`` .. ``end`` (inclusive) in ``timezone``."""

    kind: PeriodKind
    start: dt.date
    end: dt.date
    timezone: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: ColumnKind = "text"


@dataclass(frozen=True)
class Table:
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]  # keyed by Column.key; None is an empty cell
    note: str | None = None


@dataclass(frozen=True)
class Kpi:
    label: str
    value: float | None
    kind: ColumnKind = "number"
    vs_previous: float | None = None  # fractional change against the previous period
    vs_last_year: float | None = None  # against the same period a year before


@dataclass(frozen=True)
class Chart:
    """A Plotly figure (``plotly.graph_objects.Figure`` or its dict) with a caption."""

    title: str
    figure: Any
    caption: str | None = None


@dataclass(frozen=True)
class Insight:
    text: str
    severity: Literal["info", "good", "warning", "critical"] = "info"
    recommendation: str | None = None


@dataclass(frozen=True)
class Section:
    key: str  # one of SECTIONS
    title: str
    kpis: list[Kpi] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    insights: list[Insight] = field(default_factory=list)
    message: str | None = None  # e.g. "No events in this period." when there is nothing else


@dataclass(frozen=True)
class Report:
    title: str
    period: Period
    period_label: str  # e.g. "Week of Nov 30 – Dec 6, 2026", in the report's language
    generated_at: dt.datetime  # local time of the business time zone
    locale: str  # "en" or "ko"
    currency: str  # ISO 4217
    cover_kpis: list[Kpi]  # the key figures on the cover
    sections: list[Section]
    labels: dict[str, str] = field(default_factory=dict)  # renderer texts already translated:
    # "page" ("Page %(page)s of %(pages)s"), "generated" ("Generated %(when)s"),
    # "vs_previous", "vs_last_year", "contents"
    filters_label: str | None = None  # e.g. "Platforms: Web shop · Categories: Fashion"


__all__ = [
    "SECTIONS",
    "Chart",
    "Column",
    "ColumnKind",
    "Insight",
    "Kpi",
    "Period",
    "PeriodKind",
    "Report",
    "Section",
    "Table",
]
