"""The Orders explorer's data layer and its streamed export against the hand-made sales dataset
(tests/integration/test_sales_data.py), on SQLite and PostgreSQL: paging, sorting, each filter,
counts from the roll-up equal to counts of the rows, and files that hold exactly those rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from pathlib import Path

import openpyxl
import pytest

from bi_app.data import orders
from bi_app.data.orders import OrderQuery
from tests.conftest import signed_in_client
from tests.integration.test_sales_data import JAN, dataset_url  # noqa: F401 (a fixture)

pytestmark = pytest.mark.integration
D = dt.date


def _numbers(q: OrderQuery, start: int = 0, end: int = 100) -> list[str]:
    return list(orders.order_page(q, start, end)["order_number"])


def test_a_page_has_every_column_of_each_order(dataset_url):  # noqa: F811
    rows = orders.order_page(OrderQuery(*JAN)).set_index("order_number")
    assert list(rows.index) == [f"O-{n}" for n in (8, 7, 6, 5, 4, 3, 2, 1)]  # newest first
    seven = rows.loc["O-7"]
    assert seven["ordered_at"] == dt.datetime(2024, 1, 20, 23, 30)
    assert (seven["customer_id"], seven["customer"], seven["platform"]) == (
        "C3",
        "Customer 3",
        "Web",
    )
    assert (seven["status"], seven["units"], seven["amount_cents"]) == ("paid", 2, 3700)
    assert seven["items"] == "1 × Novel; 1 × Atlas"
    assert rows.loc["O-1", "items"] == "2 × Novel; 1 × Yo-yo"


def test_sorting_and_paging(dataset_url):  # noqa: F811
    by_amount = OrderQuery(*JAN, sort="amount_cents", descending=False)
    # 500 (5), then the two of 1,000 by id (4, 8), 2,000 (3), ...
    assert _numbers(by_amount)[:4] == ["O-5", "O-4", "O-8", "O-3"]
    assert _numbers(OrderQuery(*JAN), 2, 4) == ["O-6", "O-5"]
    assert _numbers(OrderQuery(*JAN, sort="order_number", descending=False))[:2] == ["O-1", "O-2"]
    with pytest.raises(ValueError, match="sort"):
        OrderQuery(*JAN, sort="customer")
    with pytest.raises(ValueError):
        orders.order_page(OrderQuery(*JAN), 0, 5000)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"platforms": ("web",)}, {1, 2, 5, 7, 8}),
        ({"statuses": ("refunded",)}, {6, 8}),
        ({"categories": ("toys",)}, {1, 3, 5}),
        ({"platforms": ("app",), "categories": ("books",)}, {4, 6}),
        ({"search": "O-1"}, {1}),  # an order number's start
        ({"search": "C2"}, {2, 6}),  # a customer id, exactly
        ({"search": "customer 3"}, {4, 5, 7}),  # a customer name, any case
        ({"search": "100%"}, set()),  # LIKE wildcards are literal
    ],
)
def test_filters_and_counts(dataset_url, query, expected):  # noqa: F811
    q = OrderQuery(*JAN, **query)
    assert {int(n[2:]) for n in _numbers(q)} == expected
    assert orders.order_count(q) == len(expected)


def test_days_are_whole_and_the_roll_up_count_equals_the_rows(dataset_url):  # noqa: F811
    # 2024-01-03 23:59:59 is on the 3rd; 2024-01-10 00:00:00 on the 10th
    assert _numbers(OrderQuery(D(2024, 1, 3), D(2024, 1, 3))) == ["O-2"]
    assert _numbers(OrderQuery(D(2024, 1, 10), D(2024, 1, 10))) == ["O-4", "O-3"]
    whole = OrderQuery(D(2023, 1, 1), D(2024, 12, 31))
    assert orders.order_count(whole) == len(_numbers(whole)) == 13


def test_iter_orders_streams_every_row_in_order(dataset_url, monkeypatch):  # noqa: F811
    monkeypatch.setattr(orders, "EXPORT_BATCH_ROWS", 3)
    batches = list(orders.iter_orders(OrderQuery(*JAN, sort="amount_cents")))
    assert [len(b) for b in batches] == [3, 3, 2]
    numbers = [n for b in batches for n in b["order_number"]]
    assert numbers == ["O-6", "O-7", "O-2", "O-1", "O-3", "O-8", "O-4", "O-5"]  # ties: id desc


@pytest.fixture
def export_client(dataset_url, app_factory):  # noqa: F811
    from tests.conftest import _seed_users

    _seed_users(dataset_url)
    return signed_in_client(app_factory(dataset_url), "analyst")


EXPORT_QUERY = "start=2024-01-01&end=2024-01-31&platform=web&status=paid,refunded&sort=amount_cents"


def test_csv_export_holds_the_filtered_rows_and_says_what_they_are(export_client):
    response = export_client.get(f"/orders/export?format=csv&{EXPORT_QUERY}")
    assert response.status_code == 200 and response.is_streamed
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    about = [line for line in text.splitlines() if line.startswith("#")]
    assert "# Period: 2024-01-01 to 2024-01-31 (days of the order time, UTC)" in about
    assert "# Platforms: web" in about and "# Statuses: paid, refunded" in about
    assert "# Rows: 3" in about
    rows = list(csv.DictReader(io.StringIO("\n".join(text.splitlines()[len(about) :]))))
    # web orders paid or refunded in January: 8 (1,000), 1 (2,500), 7 (3,700), by amount desc
    assert [(r["Order"], r["Amount"], r["Status"]) for r in rows] == [
        ("O-7", "37.0", "paid"),
        ("O-1", "25.0", "paid"),
        ("O-8", "10.0", "refunded"),
    ]
    assert rows[0]["Ordered at (UTC)"] == "2024-01-20T23:30:00"


def test_order_times_are_shown_and_exported_in_the_business_time_zone(dataset_url, app_factory):  # noqa: F811
    from bi_app.data import cache as data_cache
    from bi_app.db.periods import use_timezone
    from tests.conftest import _seed_users

    data_cache.invalidate()  # pages read in UTC by other tests must not answer
    with use_timezone("Asia/Seoul"):
        # O-7 was ordered 2024-01-20 23:30 UTC: 08:30 the next morning in Seoul
        rows = orders.order_page(OrderQuery(*JAN, search="O-7")).set_index("order_number")
        assert rows.loc["O-7", "ordered_at"] == dt.datetime(2024, 1, 21, 8, 30)
        _seed_users(dataset_url)
        client = signed_in_client(app_factory(dataset_url, timezone="Asia/Seoul"), "analyst")
        text = (
            client.get(f"/orders/export?format=csv&{EXPORT_QUERY}").get_data().decode("utf-8-sig")
        )
    assert "(days of the order time, Asia/Seoul)" in text
    assert "Ordered at (Asia/Seoul)" in text and "2024-01-21T08:30:00" in text


def test_json_and_xlsx_exports(export_client):
    body = json.loads(export_client.get(f"/orders/export?format=json&{EXPORT_QUERY}").data)
    assert body["export"]["Rows"] == "3" and body["export"]["Statuses"] == "paid, refunded"
    assert [(r["order_number"], r["amount_cents"]) for r in body["rows"]] == [
        ("O-7", 37.0),
        ("O-1", 25.0),
        ("O-8", 10.0),
    ]
    response = export_client.get(f"/orders/export?format=xlsx&{EXPORT_QUERY}&dir=asc")
    assert response.status_code == 200
    content = response.data
    response.close()  # what a WSGI server does
    assert not list(Path(tempfile.gettempdir()).glob("bi-orders-*"))  # no file left behind
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book["Orders"]
    assert [c.value for c in sheet[1]][:2] == ["Order", "Ordered at (UTC)"]
    assert [sheet.cell(r, 1).value for r in (2, 3, 4)] == ["O-8", "O-1", "O-7"]  # ascending
    assert sheet.cell(2, 8).value == 10 and "€" in sheet.cell(2, 8).number_format
    assert sheet.cell(2, 2).value == dt.datetime(2024, 1, 25, 11, 0)
    about = dict(book["About"].iter_rows(values_only=True))
    assert about["Rows"] == "3" and about["Sorted by"] == "amount, ascending"


def test_export_refuses_viewers_and_unknown_formats(export_client, dataset_url, app_factory):  # noqa: F811
    assert export_client.get(f"/orders/export?format=pdf&{EXPORT_QUERY}").status_code == 400
    # a hostile query is corrected, never an error: the default period, no bad codes
    response = export_client.get("/orders/export?format=json&start=2024-13-45&platform=<x>")
    assert response.status_code == 200 and json.loads(response.data)["export"]["Platforms"] == "all"
    viewer = signed_in_client(app_factory(dataset_url), "viewer")
    assert viewer.get(f"/orders/export?format=csv&{EXPORT_QUERY}").status_code == 403
    anonymous = app_factory(dataset_url).server.test_client()
    assert anonymous.get(f"/orders/export?format=csv&{EXPORT_QUERY}").status_code in (302, 401)
