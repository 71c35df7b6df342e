"""Demo markets: everything that makes the demo English or Korean, in one value per market.

The generators take these profiles as arguments and produce the same kind of rows either way;
a market only changes names, prices, the calendar of demand and the clock the times are
written in. ``DEMO_LOCALES`` lists the markets ``load_demo(locale=...)`` accepts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from bi_app.db import demo_korean as ko
from bi_app.db.demo_calendar import ENGLISH_CALENDAR, CalendarProfile
from bi_app.db.demo_catalog import ENGLISH_CATALOGUE, CatalogueProfile
from bi_app.db.demo_events import ENGLISH_EVENTS, EventsProfile
from bi_app.db.demo_sales import ENGLISH_SALES, SalesProfile
from bi_app.db.demo_treasury import ENGLISH_TREASURY, TreasuryProfile


def _english_outage(magnitude: float) -> str:
    return (
        f"Checkout outage: about {magnitude:.0%} of the day's orders "
        "were lost (revenue drop against an ordinary day)"
    )


@dataclass(frozen=True)
class DemoLocale:
    """One demo market and the settings it is meant to be served with."""

    code: str
    currency: str  # serve with BI_CURRENCY
    timezone: str  # serve with BI_TIMEZONE; generated wall-clock times are in this zone
    calendar: CalendarProfile
    catalogue: CatalogueProfile
    sales: SalesProfile
    events: EventsProfile
    treasury: TreasuryProfile
    outage_text: Callable[[float], str]
    # business settings the market needs (e.g. a VIP threshold in its own currency)
    business_settings: Mapping[str, Any] = field(default_factory=dict)

    def today(self) -> dt.date:
        """Today's date where the business is."""
        return dt.datetime.now(ZoneInfo(self.timezone)).date()

    def utc_offset(self, start: dt.date, end: dt.date) -> dt.timedelta:
        """The zone's offset from UTC over ``start..end``; only fixed offsets are supported."""
        zone = ZoneInfo(self.timezone)
        samples = {
            zone.utcoffset(dt.datetime.combine(start + dt.timedelta(days=d), dt.time()))
            for d in range(0, (end - start).days + 1, 30)
        }
        if len(samples) != 1:
            raise ValueError(f"demo time zone {self.timezone} changes its UTC offset")
        return samples.pop() or dt.timedelta(0)


ENGLISH = DemoLocale(
    code="en",
    currency="EUR",
    timezone="UTC",
    calendar=ENGLISH_CALENDAR,
    catalogue=ENGLISH_CATALOGUE,
    sales=ENGLISH_SALES,
    events=ENGLISH_EVENTS,
    treasury=ENGLISH_TREASURY,
    outage_text=_english_outage,
)
KOREAN = DemoLocale(
    code="ko",
    currency=ko.CURRENCY,
    timezone=ko.TIMEZONE,
    calendar=ko.CALENDAR,
    catalogue=ko.CATALOGUE,
    sales=ko.SALES,
    events=ko.EVENTS,
    treasury=ko.TREASURY,
    outage_text=ko.outage_text,
    business_settings={"customers.vip_min_spend_cents": ko.VIP_MIN_SPEND_WON},
)
DEMO_LOCALES = {market.code: market for market in (ENGLISH, KOREAN)}


def demo_locale(code: str) -> DemoLocale:
    """The market for ``code`` ("en", "ko"); ValueError names the choices."""
    try:
        return DEMO_LOCALES[code]
    except KeyError:
        choices = ", ".join(sorted(DEMO_LOCALES))
        raise ValueError(f"demo locale must be one of {choices}, got {code!r}") from None
