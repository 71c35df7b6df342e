"""A data grid card (dash-ag-grid) with CSV / Excel / JSON downloads.

Every grid in the app is built here and served by the one pattern-matching download callback in
``callbacks/grid_downloads.py``; the grid's column spec travels in a ``dcc.Store`` so the server
writes the file with the same headers and number formats the user sees.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from dash import dcc, html

from bi_app import i18n
from bi_app.export import EXPORT_FORMATS, ExportColumn
from components.ids import Grid

FORMAT_LABELS: dict[str, str] = {"csv": "CSV", "xlsx": "Excel", "json": "JSON"}
_PAGE_SIZES = (20, 50, 100)


@dataclass(frozen=True)
class GridColumn(ExportColumn):
    """An :class:`ExportColumn` with display options; ``kind`` drives both grid and file formats.

    ``money`` columns hold integer cents in the DataFrame (shown and exported in units) or
    ``Decimal`` units; ``percent`` columns hold fractions.
    """

    width: int | None = None
    pinned: Literal["left", "right"] | None = None


def grid_rows(
    df: pd.DataFrame, columns: Sequence[ExportColumn] = (), currency: str | None = None
) -> list[dict[str, Any]]:
    """JSON-ready row dicts for a grid: money in minor units becomes the currency's major unit
    (``currency``, else ``BI_CURRENCY``: KRW as is, EUR / 100, BHD / 1000), dates become ISO
    dates."""
    digits = i18n.currency_decimals(currency or i18n.app_currency())
    table = pa.Table.from_pandas(df, preserve_index=False)
    for column in columns:
        if column.field not in table.column_names:
            continue
        index = table.column_names.index(column.field)
        values = table.column(index)
        if column.kind == "money":
            values = _money_units(values, digits)
        elif column.kind == "date":
            values = _iso_dates(values)
        else:
            continue
        table = table.set_column(index, column.field, values)
    return table.to_pylist()


def _money_units(values: pa.ChunkedArray, digits: int) -> pa.ChunkedArray:
    if pa.types.is_decimal(values.type):
        return pc.cast(values, pa.float64())
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        # float64 appears when an integer minor-unit column has gaps (NaN); still minor units
        return pc.divide(pc.cast(values, pa.float64()), float(10**digits))
    return values


def _iso_dates(values: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_timestamp(values.type):
        values = pc.cast(values, pa.date32())
    if pa.types.is_date(values.type):
        return pc.cast(values, pa.string())
    return values


# Numbers and money are formatted in the browser by ``biNumber`` (assets/locale.js): Intl in the
# page's language, money with the currency's own minor units (KRW 0, EUR 2, BHD 3).
_FORMATTED_KINDS = frozenset({"int", "float", "percent", "change", "money"})


def _value_formatter(kind: str, currency: str) -> dict[str, str] | None:
    if kind not in _FORMATTED_KINDS:
        return None
    code = currency.upper() if kind == "money" else ""
    return {"function": f"biNumber(params.value, {json.dumps(kind)}, {json.dumps(code)})"}


def column_defs(columns: Sequence[GridColumn], currency: str) -> list[dict[str, Any]]:
    """AG Grid column definitions: typed filters, right-aligned numbers, d3-formatted values."""
    defs = []
    for column in columns:
        item: dict[str, Any] = {"field": column.field, "headerName": i18n.gettext(column.header)}
        if column.kind == "text":
            item.update(cellDataType="text", filter="agTextColumnFilter")
        elif column.kind == "date":
            item.update(cellDataType="dateString", filter="agDateColumnFilter")
        else:
            item.update(
                cellDataType="number",
                filter="agNumberColumnFilter",
                type="rightAligned",
                valueFormatter=_value_formatter(column.kind, currency),
            )
        if column.width:
            item["width"] = column.width
        else:
            item.update(flex=1, minWidth=110)
        if column.pinned:
            item["pinned"] = column.pinned
        defs.append(item)
    return defs


@functools.cache
def _ag_grid_texts(locale: str) -> dict[str, str]:
    """AG Grid's own texts (paging, filters, menus) in ``locale``, from the file vendored from
    ``@ag-grid-community/locale`` (English is built into the grid)."""
    path = i18n.LOCALE_DATA / f"ag_grid_{locale}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def grid_locale() -> dict[str, Any]:
    """``dashGridOptions`` entries that make a grid speak the request's language."""
    texts = _ag_grid_texts(i18n.current_locale())
    return {"localeText": texts} if texts else {}


def download_menu(
    name: str, item_id: Callable[[str, str], dict] = Grid.download_item
) -> dbc.DropdownMenu:
    """CSV / Excel / JSON items; ``item_id(name, format)`` names each (a grid whose rows live on
    the server has its own ids and callback)."""
    items = [
        dbc.DropdownMenuItem(FORMAT_LABELS[fmt], id=item_id(name, fmt), n_clicks=0)
        for fmt in EXPORT_FORMATS
    ]
    return dbc.DropdownMenu(
        items,
        label=i18n.gettext("Download"),
        size="sm",
        color="secondary",
        align_end=True,
        className="bi-grid-download",
    )


def download_message(text: str | None, level: Literal["warning", "danger", "info"] = "info"):
    """The notice under a grid's header after a download (None clears it)."""
    if not text:
        return None
    return dbc.Alert(text, color=level, dismissable=True, className="py-1 px-2 mb-2 small")


def server_grid(
    name: str,
    columns: Sequence[GridColumn],
    currency: str,
    *,
    sortable: Collection[str],
    default_sort: tuple[str, str],
    row_id: str,
    block_rows: int,
    height: int,
) -> dag.AgGrid:
    """A grid whose rows the server pages: AG Grid's infinite row model asks for blocks of
    ``block_rows`` rows as the user scrolls (``getRowsRequest``), sorted by one of the
    ``sortable`` columns (the server's indexes); ``default_sort`` is (field, "asc"/"desc")."""
    defs = column_defs(columns, currency)
    for item in defs:
        item["sortable"] = item["field"] in sortable
        item.pop("filter", None)
    field, direction = default_sort
    defs[[d["field"] for d in defs].index(field)]["sort"] = direction
    return dag.AgGrid(
        id=Grid.grid(name),
        columnDefs=defs,
        rowModelType="infinite",
        defaultColDef={"sortable": False, "filter": False, "resizable": True},
        getRowId=f"params.data.{row_id}",
        dashGridOptions={
            "cacheBlockSize": block_rows,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": block_rows,
            "maxConcurrentDatasourceRequests": 2,
            "animateRows": False,
            "enableCellTextSelection": True,
            "ensureDomOrder": True,
            **grid_locale(),
        },
        style={"height": f"{height}px"},
    )


def purge_rows_js(name: str) -> str:
    """A clientside callback body that makes a :func:`server_grid` drop its loaded blocks (new
    filters), so it asks for rows again; returns ``no_update``."""
    # the grid's id as Dash writes it in the page (keys sorted, no spaces), as a JS string
    grid_id = json.dumps(json.dumps(Grid.grid(name), sort_keys=True, separators=(",", ":")))
    return (
        "function(_query) {\n"
        "    var api = null;\n"
        f"    try {{ api = window.dash_ag_grid && window.dash_ag_grid.getApi({grid_id}); }}"
        " catch (e) {}\n"
        "    if (api) { api.purgeInfiniteCache(); }\n"
        "    return window.dash_clientside.no_update;\n"
        "}"
    )


def column_spec(columns: Sequence[GridColumn]) -> list[dict[str, Any]]:
    """The columns as the download reads them back from the browser (field, header, kind)."""
    return [asdict(ExportColumn(c.field, i18n.gettext(c.header), c.kind)) for c in columns]


def data_grid(
    name: str,
    columns: Sequence[GridColumn],
    rows: list[dict[str, Any]] | None = None,
    *,
    title: str | None = None,
    page_size: int = 20,
    height: int | str = 560,
    currency: str,
    can_download: bool,
    controls: Any = None,
) -> dbc.Card:
    """A card with a sortable, filterable, paginated grid and, when ``can_download``, a Download
    menu. ``rows`` come from :func:`grid_rows`; money columns are shown in ``currency``;
    ``controls`` (e.g. a radio) sit in the header beside the title."""
    grid = dag.AgGrid(
        id=Grid.grid(name),
        columnDefs=column_defs(columns, currency),
        rowData=rows or [],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "floatingFilter": True},
        dashGridOptions={
            "pagination": True,
            "paginationPageSize": page_size,
            "paginationPageSizeSelector": sorted({page_size, *_PAGE_SIZES}),
            "animateRows": False,
            "enableCellTextSelection": True,
            "ensureDomOrder": True,
            **grid_locale(),
        },
        style={"height": f"{height}px" if isinstance(height, int) else height},
    )
    header = [html.H6(title or "", className="mb-0 me-auto")]
    if controls is not None:
        header.append(controls)
    if can_download:
        header.append(download_menu(name))
    return dbc.Card(
        [
            dbc.CardHeader(html.Div(header, className="d-flex align-items-center gap-2")),
            dbc.CardBody(
                [
                    html.Div(id=Grid.message(name), role="status"),
                    grid,
                    dcc.Download(id=Grid.download(name)),
                    dcc.Store(id=Grid.spec(name), data=column_spec(columns)),
                ]
            ),
        ],
        className="bi-data-grid mb-3",
    )
