"""``GET /export/page/<page>.pdf``: a dashboard page's URL filters as a PDF report, for a signed-in
user allowed on the page; clear 400s for an unknown page or a malformed filter, 403 for a role
the page refuses, the login form for anonymous visitors.

The revenue on the PDF is checked against the daily roll-up, summed here for the one platform."""

from __future__ import annotations

import datetime as dt
import io
import re

import dash
import pypdf
import pytest
from sqlalchemy import func, select

from bi_app.db.engine import make_engine
from bi_app.db.models import REVENUE_STATUSES, DailyOrders, SalesPlatform
from bi_app.reports import pdf
from bi_app.reports.page_export import plan_export, register_page_export
from tests.conftest import signed_in_client

pytestmark = pytest.mark.integration


def _platform_revenue(url: str) -> tuple[str, str, dt.date, dt.date, int, int]:
    """A platform with sales (code, name), a ten-day range of the last full month with data,
    that platform's revenue (cents) in it and the revenue of all platforms."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            last = dt.date.fromisoformat(str(conn.scalar(select(func.max(DailyOrders.day)))))
            start = (last.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
            end = start + dt.timedelta(days=9)
            in_range = (
                DailyOrders.day >= start,
                DailyOrders.day <= end,
                DailyOrders.status.in_(REVENUE_STATUSES),
            )
            per_platform = conn.execute(
                select(SalesPlatform.code, SalesPlatform.name, func.sum(DailyOrders.revenue_cents))
                .join(SalesPlatform, SalesPlatform.id == DailyOrders.platform_id)
                .where(*in_range)
                .group_by(SalesPlatform.code, SalesPlatform.name)
                .order_by(SalesPlatform.code)
            ).all()
    finally:
        engine.dispose()
    assert len(per_platform) >= 2, "the demo has sales on several platforms"
    code, name, revenue = per_platform[-1]
    return code, name, start, end, int(revenue), sum(int(r) for *_x, r in per_platform)


@pytest.fixture
def export_app(demo_app):
    register_page_export(demo_app.server, demo_app.config.routes_pathname_prefix)
    return demo_app


def _text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_sales_page_with_a_platform_and_a_range_as_pdf(export_app, demo_sqlite_url):
    code, name, start, end, revenue, everything = _platform_revenue(demo_sqlite_url)
    assert revenue != everything
    client = signed_in_client(export_app, "viewer")
    response = client.get(
        f"/export/page/sales.pdf?start={start}&end={end}&platform={code}&granularity=day"
        "&status=paid,shipped"
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="sales-{start.isoformat()}-{end.isoformat()}.pdf"'
    )
    assert response.data.startswith(b"%PDF")
    text = _text(response.data)
    assert "Report: Sales" in text
    assert f"{start:%b} {start.day} – {end.day}, {end.year}" in text  # the period, in English
    assert f"Platforms: {name}" in text
    assert "Order statuses paid, shipped: not applied" in text
    shown = pdf.format_value(revenue / 100, "money", "en", "EUR")
    assert shown in text  # the KPI: that platform's revenue, not all platforms'
    assert pdf.format_value(everything / 100, "money", "en", "EUR") not in text
    # sections the filter cannot narrow say so
    assert "The sales insights follow the platform and category filters" in text


def test_unknown_page_and_malformed_filters_are_400_with_a_message(export_app):
    client = signed_in_client(export_app, "analyst")

    response = client.get("/export/page/ops-health.pdf")
    assert response.status_code == 400
    message = response.get_data(as_text=True)
    assert message.startswith("Unknown page 'ops-health'") and "sales" in message
    assert "Traceback" not in message

    response = client.get("/export/page/sales.pdf?start=2026-13-45&end=2026-11-30")
    assert response.status_code == 400
    assert response.get_data(as_text=True).startswith("Invalid start date '2026-13-45'")

    response = client.get("/export/page/sales.pdf?status=lost")
    assert response.status_code == 400
    assert "Unknown order status 'lost' ignored." in response.get_data(as_text=True)

    response = client.get("/export/page/customers.pdf?platform=nope")
    assert response.status_code == 400
    assert "Unknown platform 'nope' ignored." in response.get_data(as_text=True)

    response = client.get("/export/page/sales.pdf?start=2020-01-01&end=2022-01-01")
    assert response.status_code == 400
    assert "at most 366 days" in response.get_data(as_text=True)


def test_pages_that_ignore_the_sales_filters_export_without_them(export_app):
    client = signed_in_client(export_app, "admin")
    # the sidebar carries ?platform= to every business page: the treasury page ignores it
    response = client.get("/export/page/treasury.pdf?platform=nope&start=2026-11-01&end=2026-11-30")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Disposition"].endswith(
        'filename="treasury-2026-11-01-2026-11-30.pdf"'
    )
    assert "Platforms:" not in _text(response.data)


def test_a_role_the_page_refuses_gets_403_and_anonymous_the_login(export_app, monkeypatch):
    page = next(p for p in dash.page_registry.values() if p["path"] == "/treasury")
    monkeypatch.setitem(page, "roles", ("admin", "analyst"))
    viewer = signed_in_client(export_app, "viewer")
    assert viewer.get("/export/page/treasury.pdf").status_code == 403
    assert viewer.get("/export/page/unknown.pdf").status_code == 400

    anonymous = export_app.server.test_client()
    response = anonymous.get("/export/page/sales.pdf?platform=web")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_plan_resolves_a_preset_against_today_and_defaults_to_the_page_range(export_app):
    with export_app.server.test_request_context():
        plan = plan_export("overview", {"preset": "last-7-days"}, today=dt.date(2026, 12, 5))
        assert plan.page.sections[0] == "kpis" and plan.platforms is None
        assert plan.end <= dt.date(2026, 12, 5) and (plan.end - plan.start).days in (6, 7)
        default = plan_export("events", {})
        assert (default.end - default.start).days == 89


def test_the_pdf_speaks_the_users_language(export_app, demo_sqlite_url):
    code, _name, start, end, revenue, _all = _platform_revenue(demo_sqlite_url)
    client = signed_in_client(export_app, "analyst")
    response = client.get(
        f"/export/page/customers.pdf?start={start}&end={end}&platform={code}",
        headers={"Accept-Language": "ko-KR,ko;q=0.9"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Disposition"].endswith(
        f'filename="customers-{start}-{end}.pdf"'
    )
    text = _text(response.data)
    assert "핵심 지표" in text and "고객" in text  # "Key figures", "Customers"
    assert pdf.format_value(revenue / 100, "money", "ko", "EUR") in text
