"""Build and read the customer bitmaps of :mod:`bi_app.db.bitmap_models`.

Building (:func:`refresh_bitmaps`, called by :func:`bi_app.db.rollups.refresh_rollups` in its
transaction) works one calendar month at a time, so memory stays bounded at any size. The
database groups and Python only turns id lists into bitmaps. Per month, one statement reads the
revenue orders once with their items' categories (:func:`_order_sets`) and returns, per day and
platform, each group's customer ids as one comma-separated text (``string_agg`` /
``group_concat``, parsed by numpy):

- buyers per category (category 0: an order without items);
- repeat buyers (two or more orders that day) per category and for any category;
- pairs per two categories: customers with an order holding both;

and a second one the visitors per (day, platform) from ``visits``.

Everything else is bitmap algebra, exact because each order belongs to one day and one platform:
"any category" is the union over categories, "any platform" the union over platforms, a month
the union of its days, a quarter of its months. Repeat buyers over disjoint sets of orders
combine as ``repeat |= repeat_p | (seen & buyers_p); seen |= buyers_p`` (:func:`fold`). Repeat
buyers over several *categories* do not combine that way (one order can hold items of two), so
``repeat`` is stored per category and for :data:`ALL` categories, and ``pair`` bitmaps (customers
with an order holding both of two categories, from a self-join of the orders' categories) make
the several-category case exact too (:func:`repeat_buyers`).

Days are local to the business time zone (see :mod:`bi_app.db.periods`): the orders and visits
of a local day are read by its UTC bounds and dated by :class:`~bi_app.db.periods.day_of`.

Reading (:func:`load`) splits a date range with :func:`bi_app.db.periods.plan_range` into whole
quarters, whole months and edge days, so a year costs a few dozen bitmaps.
"""

from __future__ import annotations

import array
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np
from pyroaring import BitMap
from sqlalchemy import (
    Connection,
    Integer,
    String,
    Text,
    and_,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from bi_app.db.bitmap_models import ALL, BITMAP_TABLES
from bi_app.db.models import (
    REVENUE_STATUSES,
    Order,
    OrderItem,
    Product,
    Visit,
)
from bi_app.db.periods import (
    business_timezone,
    day_of,
    local_date,
    local_day_range,
    next_period,
    period_range,
    period_start,
    plan_range,
    touched_periods,
)

log = logging.getLogger(__name__)

NO_CATEGORY_ID = 0  # an order without items: "all categories" still counts its customer
STREAM_ROWS = 2_000
Key = tuple[str, int, int, int]  # kind, platform_id, category_id, paired_category_id
Sets = dict[Key, BitMap]


class id_list(FunctionElement):
    """The group's values as one comma-separated text (aggregate)."""

    type = Text()
    inherit_cache = True
    name = "id_list"


@compiles(id_list)
def _id_list_default(element: id_list, compiler: Any, **kw: Any) -> str:
    return f"string_agg(CAST({compiler.process(element.clauses, **kw)} AS TEXT), ',')"


@compiles(id_list, "sqlite")
def _id_list_sqlite(element: id_list, compiler: Any, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


def parse_ids(text: str | None) -> BitMap:
    """A bitmap of the ids in a comma-separated text (numpy parses, pyroaring takes the buffer)."""
    if not text:
        return BitMap()
    values = array.array("I")
    values.frombytes(np.fromstring(text, dtype=np.uint32, sep=",").tobytes())
    return BitMap(values)


def serialize(bitmap: BitMap) -> bytes:
    """Run-optimized, so equal sets give equal bytes however they were built."""
    bitmap.run_optimize()
    return bitmap.serialize()


def fold(pairs: Iterable[tuple[BitMap, BitMap | None]]) -> tuple[BitMap, BitMap]:
    """(buyers, repeat) over a union of pairwise disjoint sets of orders, given (buyers, repeat)
    of each: a customer repeats if they repeat in one part or buy in two."""
    seen, repeat = BitMap(), BitMap()
    for buyers, again in pairs:
        if again:
            repeat |= again
        repeat |= seen & buyers
        seen |= buyers
    return seen, repeat


# --- building -------------------------------------------------------------------------------


def _stream(conn: Connection, query: Any) -> Iterator[Any]:
    # per statement: Connection.execution_options() would change the connection for good
    yield from conn.execute(
        query, execution_options={"stream_results": True, "yield_per": STREAM_ROWS}
    )


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _order_window(lo: dt.date, hi: dt.date, tz: str) -> list[Any]:
    return [
        *local_day_range(Order.ordered_at, lo, hi, tz),
        Order.status.in_(REVENUE_STATUSES),
    ]


def _order_sets(lo: dt.date, hi: dt.date, first_id: int, last_id: int, tz: str) -> Any:
    """One statement for the order-based sets of days lo..hi: rows (kind, day, platform,
    category, paired category, comma-separated customer ids) of buyers and repeat buyers per
    platform and category, repeat buyers per platform, and category pairs.

    They all come from one pass over the range's revenue orders and their items' categories
    (the ``order_categories`` CTE, an order without items in category 0). Items are read by an
    order id range as well: left to itself the planner scans every order item for a month."""
    day = day_of(Order.ordered_at, tz)
    oc = (
        select(
            Order.id.label("order_id"),
            day.label("day"),
            Order.platform_id.label("platform_id"),
            Order.customer_id.label("customer_id"),
            func.coalesce(Product.category_id, NO_CATEGORY_ID).label("category_id"),
        )
        .select_from(Order)
        .outerjoin(
            OrderItem,
            and_(OrderItem.order_id == Order.id, OrderItem.order_id.between(first_id, last_id)),
        )
        .outerjoin(Product, Product.id == OrderItem.product_id)
        .where(*_order_window(lo, hi, tz))
        .distinct()
        .cte("order_categories")
    )

    def tag(kind: str) -> Any:
        return literal(kind, String(16))

    every = literal(ALL, Integer)
    keys = (oc.c.day, oc.c.platform_id, oc.c.category_id)
    buyers = select(tag("buyers"), *keys, every, id_list(oc.c.customer_id)).group_by(*keys)
    twice = (
        select(*keys, oc.c.customer_id)
        .group_by(*keys, oc.c.customer_id)
        .having(func.count() >= 2)  # rows are distinct (order, category): two orders
        .subquery("twice")
    )
    twice_keys = (twice.c.day, twice.c.platform_id, twice.c.category_id)
    repeat = select(tag("repeat"), *twice_keys, every, id_list(twice.c.customer_id)).group_by(
        *twice_keys
    )
    platform_keys = (oc.c.day, oc.c.platform_id, oc.c.customer_id)
    again = (
        select(*platform_keys)
        .group_by(*platform_keys)
        .having(func.count(func.distinct(oc.c.order_id)) >= 2)
        .subquery("again")
    )
    repeat_any = select(
        tag("repeat"), again.c.day, again.c.platform_id, every, every, id_list(again.c.customer_id)
    ).group_by(again.c.day, again.c.platform_id)
    one, other = oc.alias("one"), oc.alias("other")
    pair_keys = (one.c.day, one.c.platform_id, one.c.category_id, other.c.category_id)
    pairs = (
        select(tag("pair"), *pair_keys, id_list(one.c.customer_id))
        .select_from(
            one.join(
                other,
                and_(other.c.order_id == one.c.order_id, other.c.category_id > one.c.category_id),
            )
        )
        .group_by(*pair_keys)
    )
    return union_all(buyers, repeat, repeat_any, pairs)


def _build_days(conn: Connection, lo: dt.date, hi: dt.date, tz: str) -> dict[dt.date, Sets]:
    """Every day's bitmaps for local days lo..hi (only non-empty ones)."""
    days: dict[dt.date, Sets] = defaultdict(dict)
    # "+ 0": PostgreSQL would answer min()/max() by walking the primary key from either end,
    # filtering on the date (most of the table for a month in the middle of the data)
    first_id, last_id = conn.execute(
        select(func.min(Order.id + 0), func.max(Order.id + 0)).where(*_order_window(lo, hi, tz))
    ).one()
    if first_id is not None:
        query = _order_sets(lo, hi, first_id, last_id, tz)
        for kind, d, platform, category, paired, ids in _stream(conn, query):
            days[_day(d)][(kind, platform, category, paired)] = parse_ids(ids)

    vday = day_of(Visit.visited_at, tz)
    visits = (
        select(vday, Visit.platform_id, id_list(Visit.customer_id))
        .where(*local_day_range(Visit.visited_at, lo, hi, tz))
        .group_by(vday, Visit.platform_id)
    )
    for d, platform, ids in _stream(conn, visits):
        # a visit without a platform only counts for "any platform"
        key = ("visitors", ALL if platform is None else platform, ALL, ALL)
        sets = days[_day(d)]
        sets[key] = sets.get(key, BitMap()) | parse_ids(ids)
    for sets in days.values():
        _derive_day(sets)
    return days


def _derive_day(sets: Sets) -> None:
    """Add the "any category" / "any platform" sets of one day to its per-platform ones."""
    by_platform: dict[int, list[BitMap]] = defaultdict(list)
    by_category: dict[int, list[tuple[BitMap, BitMap | None]]] = defaultdict(list)
    pairs: dict[tuple[int, int], list[BitMap]] = defaultdict(list)
    for (kind, platform, category, paired), bitmap in list(sets.items()):
        if kind == "buyers":
            by_platform[platform].append(bitmap)
            repeat = sets.get(("repeat", platform, category, ALL))
            by_category[category].append((bitmap, repeat))
        elif kind == "pair":
            pairs[(category, paired)].append(bitmap)
    platforms = []
    for platform, bitmaps in by_platform.items():
        union = BitMap.union(*bitmaps)
        sets[("buyers", platform, ALL, ALL)] = union
        platforms.append((union, sets.get(("repeat", platform, ALL, ALL))))
    for category, parts in by_category.items():
        buyers, repeat = fold(parts)  # platforms hold disjoint orders
        sets[("buyers", ALL, category, ALL)] = buyers
        if repeat:
            sets[("repeat", ALL, category, ALL)] = repeat
    for (category, paired), bitmaps in pairs.items():
        sets[("pair", ALL, category, paired)] = BitMap.union(*bitmaps)
    if platforms:
        buyers, repeat = fold(platforms)
        sets[("buyers", ALL, ALL, ALL)] = buyers
        if repeat:
            sets[("repeat", ALL, ALL, ALL)] = repeat
    visitors = [b for (kind, p, _c, _o), b in sets.items() if kind == "visitors" and p != ALL]
    if visitors:
        everyone = ("visitors", ALL, ALL, ALL)
        sets[everyone] = BitMap.union(*visitors, sets.get(everyone, BitMap()))


def combine(parts: Iterable[Sets]) -> Sets:
    """The sets of a period from those of its (disjoint) sub-periods."""
    buyers: dict[tuple[int, int], list[tuple[BitMap, BitMap | None]]] = defaultdict(list)
    unions: dict[Key, list[BitMap]] = defaultdict(list)
    for sets in parts:
        for key, bitmap in sets.items():
            kind, platform, category, _paired = key
            if kind == "buyers":
                repeat = sets.get(("repeat", platform, category, ALL))
                buyers[(platform, category)].append((bitmap, repeat))
            elif kind != "repeat":  # visitors, pairs
                unions[key].append(bitmap)
    out: Sets = {}
    for (platform, category), pairs in buyers.items():
        union, repeat = fold(pairs)
        out[("buyers", platform, category, ALL)] = union
        if repeat:
            out[("repeat", platform, category, ALL)] = repeat
    for key, bitmaps in unions.items():
        out[key] = BitMap.union(*bitmaps)
    return out


def _stored(conn: Connection, grain: str, conditions: list[Any]) -> dict[dt.date, Sets]:
    table = BITMAP_TABLES[grain]
    period = table.c[grain]
    query = select(
        period,
        table.c.kind,
        table.c.platform_id,
        table.c.category_id,
        table.c.paired_category_id,
        table.c.bitmap,
    ).where(*conditions)
    found: dict[dt.date, Sets] = defaultdict(dict)
    for start, kind, platform, category, paired, data in _stream(conn, query):
        found[_day(start)][(kind, platform, category, paired)] = BitMap.deserialize(bytes(data))
    return found


def _write(conn: Connection, grain: str, periods: dict[dt.date, Sets]) -> int:
    table = BITMAP_TABLES[grain]
    rows = [
        {
            grain: start,
            "kind": kind,
            "platform_id": platform,
            "category_id": category,
            "paired_category_id": paired,
            "bitmap": serialize(bitmap),
        }
        for start, sets in sorted(periods.items())
        for (kind, platform, category, paired), bitmap in sorted(sets.items())
        if bitmap
    ]
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        _copy(conn, table, rows)
    else:
        for i in range(0, len(rows), 1000):
            conn.execute(insert(table), rows[i : i + 1000])
    return len(rows)


def _copy(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Binary COPY on the connection's own transaction: a full build writes ~100k rows, several
    times faster than multi-row INSERTs."""
    from psycopg import sql

    if not rows:
        return
    names = list(rows[0])
    types = {c.name: "date" if c.name in BITMAP_TABLES else "int4" for c in table.columns}
    types.update(kind="text", bitmap="bytea")
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types([types[name] for name in names])
        for row in rows:
            copy.write_row([row[name] for name in names])


def _stamp(value: Any) -> dt.datetime:
    """A stored timestamp (SQLite hands back text for aggregates) as a naive datetime."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.min)
    return dt.datetime.fromisoformat(str(value))


def _data_days(conn: Connection, tz: str) -> tuple[dt.date | None, dt.date | None]:
    """The first and last local day with an order or a visit."""
    first, last = conn.execute(select(func.min(Order.ordered_at), func.max(Order.ordered_at))).one()
    vfirst, vlast = conn.execute(
        select(func.min(Visit.visited_at), func.max(Visit.visited_at))
    ).one()
    firsts = [local_date(_stamp(v), tz) for v in (first, vfirst) if v is not None]
    lasts = [local_date(_stamp(v), tz) for v in (last, vlast) if v is not None]
    return (min(firsts) if firsts else None), (max(lasts) if lasts else None)


def refresh_bitmaps(
    conn: Connection,
    start: dt.date | None,
    end: dt.date | None,
    tz: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Rebuild the day bitmaps of local days ``start..end`` (None: unbounded; days begin in
    ``tz``, default :func:`business_timezone`) and the month and quarter bitmaps of every month
    and quarter they touch, from the daily ones; returns rows inserted per table. Runs in the
    caller's transaction and reads only orders, order items, products and visits. ``progress``
    hears one line per month built."""
    tz = tz or business_timezone()

    rows = {t.name: 0 for t in BITMAP_TABLES.values()}
    for grain, table in BITMAP_TABLES.items():
        first, last = touched_periods(start, end, grain)
        conn.execute(delete(table).where(*period_range(table, grain, first, last)))
    lo, hi = start, end
    if lo is None or hi is None:
        data_lo, data_hi = _data_days(conn, tz)
        lo = lo if lo is not None else (min(data_lo, hi) if data_lo and hi else data_lo)
        hi = hi if hi is not None else (max(data_hi, lo) if data_hi and lo else data_hi)
        if lo is None or hi is None:
            return rows  # no data at all
    day_table, month_table = BITMAP_TABLES["day"], BITMAP_TABLES["month"]
    quarter: dt.date | None = None
    quarter_parts: dict[dt.date, Sets] = {}
    month = period_start(lo, "month")
    while month <= hi:
        stop = next_period(month, "month") - dt.timedelta(days=1)
        first, last = max(lo, month), min(hi, stop)
        days = _build_days(conn, first, last, tz)
        rows[day_table.name] += _write(conn, "day", days)
        # days of the month outside the refreshed range keep their stored bitmaps
        others = _stored(
            conn,
            "day",
            [
                day_table.c.day >= month,
                day_table.c.day <= stop,
                ~and_(day_table.c.day >= first, day_table.c.day <= last),
            ],
        )
        sets = combine([*days.values(), *others.values()])
        del days, others
        rows[month_table.name] += _write(conn, "month", {month: sets})
        if progress is not None:
            progress(f"customer bitmaps: {month:%Y-%m}")
        if quarter is not None and period_start(month, "quarter") != quarter:
            rows["quarterly_customer_bitmaps"] += _finish_quarter(conn, quarter, quarter_parts)
            quarter_parts = {}
        quarter = period_start(month, "quarter")
        quarter_parts[month] = sets
        month = next_period(month, "month")
    if quarter is not None:
        rows["quarterly_customer_bitmaps"] += _finish_quarter(conn, quarter, quarter_parts)
    return rows


def _finish_quarter(conn: Connection, quarter: dt.date, built: dict[dt.date, Sets]) -> int:
    """Write a quarter's bitmaps from its rebuilt months and the stored other ones."""
    month_table = BITMAP_TABLES["month"]
    last_month = next_period(next_period(quarter, "month"), "month")
    others = _stored(
        conn,
        "month",
        [
            month_table.c.month >= quarter,
            month_table.c.month <= last_month,
            month_table.c.month.notin_(list(built)),
        ],
    )
    return _write(conn, "quarter", {quarter: combine([*built.values(), *others.values()])})


# --- reading --------------------------------------------------------------------------------


class Part(NamedTuple):
    """One stored bitmap: the start of its period, its kind, platform and category (pairs: and
    the other, larger category)."""

    start: dt.date
    kind: str
    platform_id: int
    category_id: int
    paired_category_id: int
    bitmap: BitMap


def load(
    conn: Connection,
    start: dt.date,
    end: dt.date,
    kinds: tuple[str, ...],
    platform_ids: Iterable[int] | None,
    category_ids: Iterable[int] | None,
    grains: tuple[str, ...] = ("quarter", "month"),
) -> list[Part]:
    """The stored bitmaps covering days ``start..end`` exactly once (whole quarters, whole
    months, edge days) for ``kinds`` and the platform / category ids (None: :data:`ALL`); pairs
    of two of the categories."""

    platforms = [ALL] if platform_ids is None else list(platform_ids)
    categories = [ALL] if category_ids is None else list(category_ids)
    if start > end or not platforms or not categories:
        return []
    parts = []
    for grain, first, last in plan_range(start, end, grains):
        table = BITMAP_TABLES[grain]
        period = table.c[grain]
        parts.append(
            select(
                period.label("start"),
                table.c.kind,
                table.c.platform_id,
                table.c.category_id,
                table.c.paired_category_id,
                table.c.bitmap,
            ).where(
                period >= first,
                period <= last,
                table.c.kind.in_(kinds),
                table.c.platform_id.in_(platforms),
                table.c.category_id.in_(categories),
                table.c.paired_category_id.in_([ALL, *categories]),
            )
        )
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    return [
        Part(_day(s), kind, p, c, o, BitMap.deserialize(bytes(data)))
        for s, kind, p, c, o, data in conn.execute(query)
    ]


def union(parts: Iterable[Part], kind: str) -> BitMap:
    bitmaps = [p.bitmap for p in parts if p.kind == kind]
    return BitMap.union(*bitmaps) if bitmaps else BitMap()


def repeat_buyers(parts: Iterable[Part]) -> BitMap:
    """Customers with two or more revenue orders among the orders ``parts`` describe: load them
    with kinds ``buyers`` and ``repeat``, and ``pair`` when two or more categories are chosen.

    Parts of different periods or platforms hold disjoint orders and combine by :func:`fold`.
    Within one period and platform, categories share orders: a customer who repeats in none of
    them has one order per category bought, and those are two orders exactly when some two of
    the categories were not bought in one order, i.e. the customer is in both categories' buyers
    but not in their ``pair``."""
    groups: dict[tuple[dt.date, int], dict[str, dict]] = defaultdict(
        lambda: {"buyers": {}, "repeat": {}, "pair": {}}
    )
    for p in parts:
        group = groups[(p.start, p.platform_id)]
        if p.kind == "pair":
            group["pair"][(p.category_id, p.paired_category_id)] = p.bitmap
        elif p.kind in ("buyers", "repeat"):
            group[p.kind][p.category_id] = p.bitmap

    def per_group() -> Iterator[tuple[BitMap, BitMap]]:
        for group in groups.values():
            buyers: dict[int, BitMap] = group["buyers"]
            repeat = BitMap.union(*group["repeat"].values()) if group["repeat"] else BitMap()
            categories = sorted(buyers)
            for i, one in enumerate(categories):
                for other in categories[i + 1 :]:
                    both = buyers[one] & buyers[other]
                    if both:
                        repeat |= both - group["pair"].get((one, other), BitMap())
            yield (BitMap.union(*buyers.values()) if buyers else BitMap()), repeat

    return fold(per_group())[1]


def first_day(conn: Connection) -> dt.date | None:
    """The first day with stored buyers."""
    table = BITMAP_TABLES["day"]
    value = conn.execute(select(func.min(table.c.day)).where(table.c.kind == "buyers")).scalar()
    return _day(value) if value is not None else None


__all__ = [
    "Part",
    "combine",
    "first_day",
    "fold",
    "load",
    "parse_ids",
    "refresh_bitmaps",
    "repeat_buyers",
    "union",
]
