"""Formatting for what people read: money from integer minor units, counts, changes, and stored
UTC times shown in the configured time zone.

Currency symbols and decimals come from :mod:`bi_app.export`, so cards, charts, grids and
exported files all write money the same way.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from bi_app.export import currency_decimals, currency_symbol

NOT_AVAILABLE = "n/a"


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


def _finite(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def to_major(cents: float, currency: str) -> float:
    """Integer minor units (cents) to the major unit, for chart axes."""
    return float(cents) / 10 ** currency_decimals(currency)


def axis_prefix(currency: str) -> str:
    return currency_symbol(currency)


def format_money(cents: float | Decimal | None, currency: str) -> str:
    """``123456, "EUR"`` -> ``"€1,234.56"``; None, NaN and infinities -> ``"n/a"``."""
    if cents is None or not _finite(cents):
        return NOT_AVAILABLE
    digits = currency_decimals(currency)
    amount = (Decimal(str(cents)) / Decimal(10) ** digits).quantize(
        Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP
    )
    sign = "-" if amount < 0 else ""
    return f"{sign}{currency_symbol(currency)}{abs(amount):,.{digits}f}"


def format_count(value: float | None) -> str:
    if value is None or not _finite(value):
        return NOT_AVAILABLE
    return f"{round(value):,}"


def format_change(change_pct: float | None) -> str:
    """A change in percent with an explicit sign (``+12.3%``), or n/a when undefined."""
    if change_pct is None or not _finite(change_pct):
        return NOT_AVAILABLE
    return f"{change_pct:+.1f}%"


def format_value(value: float | None, kind: str, currency: str) -> str:
    """Format a KPI value by its kind: ``money`` (minor units) or ``count``."""
    if kind == "money":
        return format_money(value, currency)
    return format_count(value)
