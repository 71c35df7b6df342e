"""Downloads for every data grid: one pattern-matching callback, matched on the grid's name."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from dash import ALL, MATCH, Input, Output, State, ctx, dcc, no_update
from dash.exceptions import PreventUpdate

from bi_app import current_settings
from bi_app.export import MAX_DOWNLOAD_ROWS, ExportError, columns_from_spec, export_rows
from bi_app.i18n import N_, _
from bi_app.roles import Action
from callbacks._registry import callback
from components import fallback
from components.data_grid import download_message
from components.ids import Grid

log = logging.getLogger(__name__)


@callback(
    Output(Grid.download(MATCH), "data"),
    Output(Grid.message(MATCH), "children"),
    Input(Grid.download_item(MATCH, ALL), "n_clicks"),
    State(Grid.grid(MATCH), "virtualRowData"),
    State(Grid.spec(MATCH), "data"),
    roles=Action.DOWNLOAD,
    # the rows come from the browser (up to a 5,000-row grid): more than a usual callback body,
    # bounded by BI_MAX_REQUEST_MB and only for the roles that may download
    large_body=True,
    prevent_initial_call=True,
    fallback=fallback.each(fallback.value(no_update), fallback.message(N_("The download"))),
)
def download_grid(clicks: list[int | None], rows: Any, spec: Any) -> tuple[Any, Any]:
    """Saves the rows the user sees (filtered, sorted, every page) as CSV, Excel or JSON.

    The rows and the column description come from the browser: :func:`export_rows` accepts
    single values only and bounds rows, columns, cells and text before writing anything."""
    item = clicked_item()
    name, fmt = str(item.get("name"))[:60], item.get("format")
    try:
        columns = columns_from_spec(spec)
    except ExportError as exc:
        return refused(name, fmt, exc)
    return send_export(rows, columns, fmt, name)


def clicked_item() -> dict:
    """The download menu item that was clicked; a menu (re)drawn is not a click."""
    item = ctx.triggered_id
    if not isinstance(item, dict) or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    return item


def send_export(
    rows: Any,
    columns: list,
    fmt: Any,
    name: str,
    *,
    max_rows: int | None = None,
    note: str | None = None,
) -> tuple[Any, Any]:
    """``(download, message)`` for ``rows`` written as ``fmt``: the file and any notice from
    writing it (plus ``note``), or no file and the reason it was refused. ``max_rows`` defaults to
    :data:`MAX_DOWNLOAD_ROWS` as it is when called."""
    settings = current_settings()
    try:
        file = export_rows(
            rows,
            columns,
            fmt,
            name=name,
            now=dt.datetime.now(ZoneInfo(settings.timezone)),
            currency=settings.currency,
            max_rows=MAX_DOWNLOAD_ROWS if max_rows is None else max_rows,
        )
    except ExportError as exc:
        return refused(name, fmt, exc)
    log.info("grid download: grid=%r format=%r rows=%d", name, fmt, file.rows)
    notes = " ".join(text for text in (file.message, note) if text)
    return (
        dcc.send_bytes(file.content, file.filename, type=file.media_type),
        download_message(notes or None, "warning"),
    )


def refused(name: str, fmt: Any, exc: ExportError) -> tuple[Any, Any]:
    """No file, and the reason in the grid's notice."""
    log.warning("grid download refused: grid=%r format=%r: %s", name, str(fmt)[:20], exc)
    return no_update, download_message(_("Download failed: %(reason)s.", reason=exc), "danger")
