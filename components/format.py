"""Formatting for what people read: money from integer minor units, counts, changes, and stored
UTC times shown in the configured time zone.

Every number and amount is formatted by :mod:`bi_app.i18n` (Babel, in the request's locale), so
cards, charts, grids and exported files all write money the same way.
"""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from zoneinfo import ZoneInfo

from bi_app import i18n

NOT_AVAILABLE = i18n.NOT_AVAILABLE


def plain_label(value: object) -> str:
    """Text from users or data (names, codes, callback ids) made safe for a Plotly figure.

    Plotly renders a subset of HTML in tick labels, hover texts, legends and annotations
    (``<a href>``, ``<b>``, ``<br>``, ``<span style>``), so a product called
    ``<a href="https://evil.tld">x</a>`` would become a link. Escaping ``&``, ``<`` and ``>``
    shows the text exactly as written; Plotly decodes the entities for display.
    """
    return "" if value is None else html.escape(str(value), quote=False)


def to_local(moment: dt.datetime, tz: str) -> dt.datetime:
    """A stored naive-UTC time as the wall-clock time (naive) in the time zone ``tz``."""
    return moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def to_major(cents: float, currency: str) -> float:
    """Integer minor units to the major unit, for chart axes (KRW: as is; EUR: / 100)."""
    return float(i18n.to_major(cents, currency))


def axis_prefix(currency: str) -> str:
    return i18n.currency_symbol(currency)


def format_money(cents: float | Decimal | None, currency: str) -> str:
    """``123456, "EUR"`` -> ``"€1,234.56"``; ``1000000, "KRW"`` -> ``"₩1,000,000"``, in the
    request's locale (:mod:`bi_app.i18n`); None, NaN and infinities -> ``"n/a"``."""
    return i18n.format_money(cents, currency)


def format_count(value: float | None) -> str:
    return i18n.format_number(value)


def format_change(change_pct: float | None) -> str:
    """A change in percent with an explicit sign (``+12.3%``), or n/a when undefined."""
    return i18n.format_change(change_pct)


def format_value(value: float | None, kind: str, currency: str) -> str:
    """Format a KPI value by its kind: ``money`` (minor units) or ``count``."""
    if kind == "money":
        return format_money(value, currency)
    return format_count(value)
