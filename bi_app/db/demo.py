"""Deterministic demo data: two years of a multi-channel shop, its marketing events and its
treasury, with injected anomalies recorded as ground truth. ``locale="en"`` (the default) is a
European shop in euros; ``locale="ko"`` a Korean one in won, on Seoul time (see
:mod:`bi_app.db.demo_locale`).

``generate_demo`` describes the data as batches of columns (pure, no database); ``load_demo``
writes them: SQLite through Core executemany in one transaction, PostgreSQL through binary
COPY, month by month, so ``--scale 200`` (10 million orders) never holds them all in memory.
The same seed, scale, ``today`` and locale always give the same rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, delete, func, insert, select

from bi_app.db.analytics_models import BusinessSetting
from bi_app.db.demo_calendar import Calendar, build_calendar
from bi_app.db.demo_catalog import catalogue_rows, make_customers
from bi_app.db.demo_events import make_events
from bi_app.db.demo_locale import DEMO_LOCALES, DemoLocale, demo_locale
from bi_app.db.demo_sales import sales_months
from bi_app.db.demo_sink import (
    analyze,
    clear_tables,
    deferred_constraints,
    fix_sequences,
    make_sink,
    vacuum,
)
from bi_app.db.demo_treasury import make_capacity, make_treasury
from bi_app.db.models import Base, utcnow

log = logging.getLogger(__name__)

ORDERS_PER_SCALE = 50_000
CUSTOMERS_PER_SCALE = 5_000
MAX_SCALE = 1_000.0
CALENDAR_STREAM, CATALOGUE_STREAM, CUSTOMER_STREAM = 11, 12, 13
# Business tables the demo owns, parents first. Users, roles and the audit log are never touched.
DEMO_TABLES = (
    "categories",
    "sales_platforms",
    "products",
    "customers",
    "orders",
    "order_items",
    "visits",
    "events",
    "event_costs",
    "event_revenues",
    "event_registrations",
    "event_channel_stats",
    "accounts",
    "counterparties",
    "transactions",
    "capacity_resources",
    "capacity_samples",
    "demo_anomalies",
)
BULK_TABLES = ("orders", "order_items", "visits", "transactions")
ROLLUP_TABLES = (
    "daily_orders",
    "daily_category_sales",
    "daily_product_sales",
)

Batch = tuple[str, dict]
SETTINGS_AUTHOR = "demo"  # updated_by of the business settings a demo market stores
LOCALES = tuple(DEMO_LOCALES)


class DemoDataExists(RuntimeError):
    """The database already holds business data and ``replace`` was not requested."""


@dataclass
class DemoData:
    """The demo data set for one (scale, seed, today): iterate :meth:`batches` to get rows."""

    scale: float
    seed: int
    today: dt.date
    locale: str = "en"
    calendar: Calendar = field(init=False)
    market: DemoLocale = field(init=False)

    def __post_init__(self) -> None:
        if not 0 < self.scale <= MAX_SCALE:
            raise ValueError(f"scale must be above 0 and at most {MAX_SCALE:g}, got {self.scale}")
        self.market = demo_locale(self.locale)
        rng = np.random.default_rng([self.seed, CALENDAR_STREAM])
        self.calendar = build_calendar(
            self.today, ORDERS_PER_SCALE * self.scale, rng, self.market.calendar
        )

    @property
    def batch_count(self) -> int:
        return 4 + 3 * len(self.calendar.month_slices()) + 5 + 3 + 1 + 2

    def batches(self) -> Iterator[Batch]:
        """(table, columns) in foreign-key order; big tables come one month at a time.

        Times are generated on the market's wall clock and handed out as naive UTC."""
        offset = self.market.utc_offset(self.calendar.start, self.today)
        if not offset:
            yield from self._local_batches()
            return
        for table, columns in self._local_batches():
            yield table, wall_clock_to_utc(columns, offset)

    def _local_batches(self) -> Iterator[Batch]:
        market = self.market
        catalogue, categories, products, platforms = catalogue_rows(
            np.random.default_rng([self.seed, CATALOGUE_STREAM]), market.catalogue
        )
        yield "categories", categories
        yield "sales_platforms", platforms
        yield "products", products
        count = max(50, round(CUSTOMERS_PER_SCALE * self.scale))
        customers, customer_rows = make_customers(
            count,
            self.calendar,
            np.random.default_rng([self.seed, CUSTOMER_STREAM]),
            market.catalogue,
        )
        yield "customers", customer_rows
        yield from sales_months(
            self.calendar, catalogue, customers, self.seed, self.today, market.sales
        )
        yield from make_events(
            self.scale,
            self.calendar,
            customers,
            customer_rows,
            self.seed,
            self.today,
            market.events,
        ).items()
        treasury, unusual = make_treasury(self.scale, self.calendar, self.seed, market.treasury)
        yield from treasury.items()
        yield from make_capacity(treasury, self.calendar, market.treasury.capacity_label).items()
        yield "demo_anomalies", self._anomalies(unusual)

    def _anomalies(self, unusual: list[dict]) -> dict:
        rows = [
            {
                "kind": "revenue_drop",
                "day": self.calendar.start + dt.timedelta(days=i),
                "ref_table": "orders",
                "ref_id": None,
                "magnitude": magnitude,
                "description": self.market.outage_text(magnitude),
            }
            for i, magnitude in self.calendar.drops.items()
        ]
        rows = sorted(rows + unusual, key=lambda row: (row["day"], row["kind"]))
        columns: dict[str, list] = {"id": list(range(1, len(rows) + 1))}
        for key in ("kind", "day", "ref_table", "ref_id", "magnitude", "description"):
            columns[key] = [row[key] for row in rows]
        return columns


def wall_clock_to_utc(columns: dict, offset: dt.timedelta) -> dict:
    """``columns`` with every timestamp (not plain dates) moved from local time to UTC."""
    shifted = dict(columns)
    step = np.timedelta64(int(offset.total_seconds()), "s")
    for name, values in columns.items():
        if isinstance(values, np.ndarray):
            if values.dtype.kind == "M" and values.dtype != np.dtype("datetime64[D]"):
                shifted[name] = values - step
        elif isinstance(next((v for v in values if v is not None), None), dt.datetime):
            shifted[name] = [None if v is None else v - offset for v in values]
    return shifted


def generate_demo(
    scale: float = 1.0, seed: int = 42, today: dt.date | None = None, locale: str = "en"
) -> DemoData:
    """The demo data set ending yesterday relative to ``today`` (by default today's date in
    the market's time zone: UTC for "en", Seoul for "ko"); nothing is written."""
    today = today or demo_locale(locale).today()
    return DemoData(scale=scale, seed=seed, today=today, locale=locale)


def is_empty(engine: Engine) -> bool:
    """True when the database holds no orders and no customers (``bi-app setup`` then loads)."""
    tables = Base.metadata.tables
    with engine.connect() as conn:
        return not any(
            conn.execute(select(tables[name].c.id).limit(1)).first()
            for name in ("orders", "customers")
        )


def load_demo(
    engine: Engine,
    scale: float = 1.0,
    seed: int = 42,
    progress: bool = True,
    replace: bool = False,
    today: dt.date | None = None,
    locale: str = "en",
) -> dict:
    """Generate and load the demo data, refresh the roll-ups and return a summary.

    ``locale`` picks the market (:data:`LOCALES`): "ko" is a Korean shop in won, to be served
    with BI_CURRENCY=KRW and BI_TIMEZONE=Asia/Seoul (the summary's ``serve_with``); it also
    stores the business settings it needs (a VIP threshold in won), marked as the demo's.
    Raises :class:`DemoDataExists` when business data is present and ``replace`` is False;
    with ``replace`` the demo tables (never users, roles or the audit log) are emptied first.
    Everything is loaded in one transaction: a failure leaves the database as it was.
    """
    from tqdm import tqdm

    started = time.perf_counter()
    data = generate_demo(scale, seed, today, locale)
    counts = dict.fromkeys(DEMO_TABLES, 0)
    with engine.begin() as conn:
        if replace:
            dependents = clear_tables(conn, DEMO_TABLES + ROLLUP_TABLES)
            if dependents:
                log.warning(
                    "demo replace also emptied %s (they reference demo rows)", ", ".join(dependents)
                )
        else:
            _refuse_if_loaded(conn)
        sink = make_sink(conn)
        with (
            deferred_constraints(conn, BULK_TABLES),
            tqdm(
                total=data.batch_count, desc="demo data", unit="batch", disable=not progress
            ) as bar,
        ):
            for table, columns in data.batches():
                counts[table] += sink.write(table, columns)
                bar.set_postfix_str(f"{table} ({counts['orders']:,} orders)", refresh=False)
                bar.update()
        _store_settings(conn, data.market.business_settings)
        fix_sequences(conn, DEMO_TABLES)
        analyze(conn, DEMO_TABLES)
    vacuum(engine, BULK_TABLES)
    loaded = time.perf_counter()
    summary = {
        "scale": scale,
        "seed": seed,
        "locale": data.locale,
        "serve_with": {"BI_CURRENCY": data.market.currency, "BI_TIMEZONE": data.market.timezone},
        "start": data.calendar.start.isoformat(),
        "end": data.calendar.end.isoformat(),
        "counts": counts,
        "anomalies": {
            "revenue_drop": len(data.calendar.drops),
            "unusual_transaction": counts["demo_anomalies"] - len(data.calendar.drops),
        },
        "closed_days": [
            (data.calendar.start + dt.timedelta(days=int(i))).isoformat()
            for i in np.flatnonzero(data.calendar.closed)
        ],
        "load_seconds": round(loaded - started, 2),
        "rollups": _refresh_rollups(engine),
    }
    summary["elapsed_seconds"] = round(time.perf_counter() - started, 2)
    if locale != "en":
        _warn_if_served_otherwise(data.market)
    log.info(
        "demo data loaded: %s orders in %.1f s", f"{counts['orders']:,}", summary["elapsed_seconds"]
    )
    return summary


def _store_settings(conn: Connection, values: Mapping[str, Any]) -> None:
    """Replace the business settings an earlier demo load stored by ``values`` (so an English
    load after a Korean one goes back to the defaults); an admin's own values are kept unless
    the market needs another value for the same key."""
    from bi_app.business_settings import validate

    table = BusinessSetting.__table__
    conn.execute(delete(table).where(table.c.updated_by == SETTINGS_AUTHOR))
    for key, value in values.items():
        conn.execute(delete(table).where(table.c.key == key))
        conn.execute(
            insert(table).values(
                key=key, value=validate(key, value), updated_at=utcnow(), updated_by=SETTINGS_AUTHOR
            )
        )
    if values:
        log.info("demo business settings stored: %s", values)


def _warn_if_served_otherwise(market: DemoLocale) -> None:
    """The Korean set is in won and on Seoul time: say so when the environment differs."""
    from bi_app.db.periods import business_timezone

    currency = os.environ.get("BI_CURRENCY", "EUR").strip().upper()
    timezone = business_timezone()
    if currency != market.currency or timezone != market.timezone:
        log.warning(
            "demo locale %s is meant for BI_CURRENCY=%s and BI_TIMEZONE=%s; this environment has "
            "%s and %s (amounts and days will be shown in those)",
            market.code,
            market.currency,
            market.timezone,
            currency,
            timezone,
        )


def _refuse_if_loaded(conn) -> None:
    tables = Base.metadata.tables
    present = {
        name: conn.execute(select(func.count()).select_from(tables[name])).scalar_one()
        for name in ("orders", "customers", "products", "events", "transactions")
    }
    present = {name: n for name, n in present.items() if n}
    if present:
        found = ", ".join(f"{n:,} {name}" for name, n in present.items())
        raise DemoDataExists(
            f"the database already holds business data ({found}); "
            "use replace=True (bi-app demo --replace) to delete it and load the demo"
        )


def _refresh_rollups(engine: Engine) -> dict | None:
    try:
        from bi_app.db.rollups import refresh_rollups
    except ImportError:
        log.warning("bi_app.db.rollups is not available: roll-up tables were not refreshed")
        return None
    return refresh_rollups(engine)
