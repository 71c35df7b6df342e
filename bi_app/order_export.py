"""``GET /orders/export?format=csv|xlsx|json&...``: exactly the orders the Orders explorer shows
(its URL's filters, search and sort), streamed, with the period and filters written into the file.

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
from bi_app.export import EXPORT_FORMATS, XLSX_MAX_ROWS, ExportColumn, export_filename
from bi_app.filters import load_filter_context, parse_statuses
from bi_app.roles import Action

log = logging.getLogger(__name__)
FILE_CHUNK_BYTES = 256 * 1024
EXPORT_COLUMNS = [
    ExportColumn("order_number", "Order", "text"),
    ExportColumn("ordered_at", "Ordered at (UTC)", "date"),
    ExportColumn("customer_id", "Customer ID", "text"),
    ExportColumn("customer", "Customer", "text"),
    ExportColumn("platform", "Platform", "text"),
    ExportColumn("status", "Status", "text"),
    ExportColumn("units", "Units", "int"),
    ExportColumn("amount_cents", "Amount", "money"),
    ExportColumn("items", "Items", "text"),
]
SORT_LABELS = {
    "ordered_at": "order time",
    "order_number": "order number",
    "amount_cents": "amount",
}


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
    q: orders.OrderQuery, rows: int, now: dt.datetime, currency: str
) -> list[tuple[str, str]]:
    """What a file holds, in the lines people read at its top."""
    return [
        ("Export", "Orders"),
        ("Period", f"{q.start.isoformat()} to {q.end.isoformat()} (days of the order time, UTC)"),
        ("Platforms", ", ".join(q.platforms) if q.platforms else "all"),
        ("Categories", ", ".join(q.categories) if q.categories else "all"),
        ("Statuses", ", ".join(q.statuses) if q.statuses else "all"),
        ("Search", q.search or "none"),
        ("Sorted by", f"{SORT_LABELS[q.sort]}, {'descending' if q.descending else 'ascending'}"),
        ("Rows", f"{rows:,}"),
        ("Amounts", f"in {currency}"),
        ("Created", now.isoformat(timespec="seconds")),
    ]


def export_view() -> flask.Response:
    from bi_app import auth, current_settings

    auth.require_role(Action.DOWNLOAD)
    fmt = flask.request.args.get("format", "")
    if fmt not in EXPORT_FORMATS:
        message = f"Unknown format {fmt[:20]!r}: expected one of {', '.join(EXPORT_FORMATS)}."
        return flask.Response(message, status=400, mimetype="text/plain")
    settings = current_settings()
    q, _notices = query_from_args(flask.request.args)
    total = orders.order_count(q)
    now = dt.datetime.now(ZoneInfo(settings.timezone))
    about = describe(q, total, now, settings.currency)
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
    body = chunks(orders.iter_orders(q), EXPORT_COLUMNS, about)
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
            EXPORT_COLUMNS,
            about,
            sheet_name="Orders",
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
