"""``GET /orders/export?format=csv|xlsx|json&...``: exactly the orders the Orders explorer shows
(its URL's filters, search and sort), streamed, with the period and filters written into the file.

CSV and Excel files speak the downloader's language (headers, the lines that describe the file,
the sheet names); JSON is data for programs, so its keys and description stay English.

The same query string as the page's URL is read with the same parsers, so the file and the grid
cannot disagree; analysts and admins may download (``Action.DOWNLOAD``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import flask

from bi_app import export_stream
from bi_app.data import orders
from bi_app.db.periods import business_timezone
from bi_app.export import EXPORT_FORMATS, XLSX_MAX_ROWS, ExportColumn, export_filename
from bi_app.filters import load_filter_context, parse_statuses
from bi_app.i18n import N_, _
from bi_app.roles import Action

log = logging.getLogger(__name__)
FILE_CHUNK_BYTES = 256 * 1024
# headers N_()-marked: translated per download (see columns())
EXPORT_COLUMNS = [
    ExportColumn("order_number", N_("Order"), "text"),
    ExportColumn("ordered_at", N_("Ordered at (%(timezone)s)"), "date"),
    ExportColumn("customer_id", N_("Customer ID"), "text"),
    ExportColumn("customer", N_("Customer"), "text"),
    ExportColumn("platform", N_("Platform"), "text"),
    ExportColumn("status", N_("Status"), "text"),
    ExportColumn("units", N_("Units"), "int"),
    ExportColumn("amount_cents", N_("Amount"), "money"),
    ExportColumn("items", N_("Items"), "text"),
]
SORT_LABELS = {
    "ordered_at": N_("order time"),
    "order_number": N_("order number"),
    "amount_cents": N_("amount"),
}
SHEET_NAME = N_("Orders")


def _english(message: str, **variables: Any) -> str:
    """``message`` as written (the JSON file's description, which programs read)."""
    return message % variables if variables else message


def columns(localized: bool = True) -> list[ExportColumn]:
    """:data:`EXPORT_COLUMNS` with their headers in the current locale (or English); order
    times are in the business's time zone, which the header names."""
    t = _ if localized else _english
    tz = business_timezone()
    return [ExportColumn(c.field, t(c.header, timezone=tz), c.kind) for c in EXPORT_COLUMNS]


def parse_sort(raw_sort: object, raw_dir: object) -> tuple[str, bool]:
    """The URL's ``sort`` and ``dir``: a sortable column (else the order time) and descending
    unless ``dir=asc``."""
    sort = str(raw_sort or "").strip().lower()
    return (sort if sort in orders.SORTS else "ordered_at"), str(raw_dir or "").lower() != "asc"


def query_from_args(args: Mapping[str, object]) -> tuple[orders.OrderQuery, list[str]]:
    """The explorer's query from URL values (or the page's inputs), plus notices for anything
    that had to be corrected; never raises on what a browser sends."""
    ctx = load_filter_context(args)
    statuses, notices = parse_statuses(args.get("status"))
    sort, descending = parse_sort(args.get("sort"), args.get("dir"))
    f = ctx.parsed.filters
    query = orders.OrderQuery(
        f.start,
        f.end,
        f.platforms,
        f.categories,
        statuses,
        orders.search_text(args.get("q")),
        sort,
        descending,
    )
    return query, [*ctx.parsed.notices, *notices]


def describe(
    q: orders.OrderQuery,
    rows: int,
    now: dt.datetime,
    currency: str,
    *,
    localized: bool = True,
) -> list[tuple[str, str]]:
    """What a file holds, in the lines people read at its top: in the current locale, or in
    English (``localized=False``, the JSON file's keys)."""
    t = _ if localized else _english  # every text below is N_()-marked for extraction
    every = t(N_("all"))
    sort = t(SORT_LABELS[q.sort])
    return [
        (t(N_("Export")), t(N_("Orders"))),
        (
            t(N_("Period")),
            t(
                N_("%(start)s to %(end)s (days of the order time, %(timezone)s)"),
                start=q.start.isoformat(),
                end=q.end.isoformat(),
                timezone=business_timezone(),
            ),
        ),
        (t(N_("Platforms")), ", ".join(q.platforms) if q.platforms else every),
        (t(N_("Categories")), ", ".join(q.categories) if q.categories else every),
        (t(N_("Statuses")), ", ".join(q.statuses) if q.statuses else every),
        (t(N_("Search")), q.search or t(N_("none"))),
        (
            t(N_("Sorted by")),
            t(N_("%(column)s, descending"), column=sort)
            if q.descending
            else t(N_("%(column)s, ascending"), column=sort),
        ),
        (t(N_("Rows")), f"{rows:,}"),
        (t(N_("Amounts")), t(N_("in %(currency)s"), currency=currency)),
        (t(N_("Created")), now.isoformat(timespec="seconds")),
    ]


def export_view() -> flask.Response:
    from bi_app import auth, current_settings

    auth.require_role(Action.DOWNLOAD)
    fmt = flask.request.args.get("format", "")
    if fmt not in EXPORT_FORMATS:
        message = _(
            "Unknown format %(format)s: expected one of %(formats)s.",
            format=repr(fmt[:20]),
            formats=", ".join(EXPORT_FORMATS),
        )
        return flask.Response(message, status=400, mimetype="text/plain")
    settings = current_settings()
    q, _notices = query_from_args(flask.request.args)
    total = orders.order_count(q)
    now = dt.datetime.now(ZoneInfo(settings.timezone))
    localized = fmt != "json"
    about = describe(q, total, now, settings.currency, localized=localized)
    extension, media_type = EXPORT_FORMATS[fmt]
    name = export_filename("orders", extension, now)
    log.info("orders export: %s, %s rows, by %s", fmt, total, auth.current_username())
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
    }
    if fmt == "xlsx":
        return _xlsx_response(q, about, settings.currency, headers)
    chunks = export_stream.csv_chunks if fmt == "csv" else export_stream.json_chunks
    body = chunks(orders.iter_orders(q), columns(localized), about)
    return flask.Response(flask.stream_with_context(body), mimetype=media_type, headers=headers)


def _xlsx_response(
    q: orders.OrderQuery, about: list[tuple[str, str]], currency: str, headers: dict[str, Any]
) -> flask.Response:
    """Excel needs the whole file before it can be sent: written to a temporary file in
    constant-memory mode (never held in memory), then sent from the open file, whose name is
    already gone (the file disappears when the response is closed, whatever happens)."""
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="bi-orders-")
    os.close(handle)
    try:
        export_stream.write_xlsx(
            path,
            orders.iter_orders(q, limit=XLSX_MAX_ROWS + 1),
            columns(),
            about,
            sheet_name=_(SHEET_NAME),
            currency=currency,
        )
        file = open(path, "rb")  # noqa: SIM115 (closed with the response)
    finally:
        os.unlink(path)
    size = os.fstat(file.fileno()).st_size
    response = flask.Response(
        iter(lambda: file.read(FILE_CHUNK_BYTES), b""),
        mimetype=EXPORT_FORMATS["xlsx"][1],
        headers={**headers, "Content-Length": str(size)},
    )
    response.call_on_close(file.close)
    return response


def init_app(server: flask.Flask, routes_prefix: str) -> None:
    server.add_url_rule(f"{routes_prefix}orders/export", "bi_orders_export", export_view)
