"""A report's content built from the demo data: every section, figures checked against the
roll-up tables, comparison periods, sections without data, alerts and insights, English and
Korean."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, insert, select

from bi_app.db.alert_models import Alert
from bi_app.db.engine import make_engine
from bi_app.db.models import REVENUE_STATUSES, DailyOrders
from bi_app.reports.content import build_report
from bi_app.reports.model import SECTIONS, Period
from bi_app.reports.periods import ReportError, last_year, period_for, period_label, previous

pytestmark = pytest.mark.integration


def _sums(url: str, period: Period) -> tuple[int, int]:
    """Revenue (cents) and orders of revenue statuses from the daily roll-up."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            revenue, orders = conn.execute(
                select(
                    func.coalesce(func.sum(DailyOrders.revenue_cents), 0),
                    func.coalesce(func.sum(DailyOrders.orders), 0),
                ).where(
                    DailyOrders.day >= period.start,
                    DailyOrders.day <= period.end,
                    DailyOrders.status.in_(REVENUE_STATUSES),
                )
            ).one()
    finally:
        engine.dispose()
    return int(revenue), int(orders)


def _last_month(url: str) -> Period:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            last = conn.scalar(select(func.max(DailyOrders.day)))
    finally:
        engine.dispose()
    last = dt.date.fromisoformat(str(last))
    return period_for("monthly", last + dt.timedelta(days=1), "UTC")


def _section(report, key):
    return next(s for s in report.sections if s.key == key)


def _kpi(section, label):
    return next(k for k in section.kpis if k.label == label)


def test_monthly_report_with_every_section(demo_app, demo_sqlite_url):
    period = _last_month(demo_sqlite_url)
    calls = []
    with demo_app.server.app_context():
        report = build_report(period, locale="en", progress=lambda *a: calls.append(a))

    assert [s.key for s in report.sections] == list(SECTIONS)
    assert calls == [(i, len(SECTIONS), k) for i, k in enumerate(SECTIONS)] + [
        (len(SECTIONS), len(SECTIONS), "")
    ]
    assert report.title == "Monthly report" and report.currency == "EUR" and report.locale == "en"
    assert report.period_label == period_label(period, "en") == period.start.strftime("%B %Y")
    for section in report.sections:  # each says something: figures or why there are none
        assert section.message or section.kpis or section.tables or section.insights, section.key

    revenue, orders = _sums(demo_sqlite_url, period)
    prev_revenue, prev_orders = _sums(demo_sqlite_url, previous(period))
    year_revenue, _year_orders = _sums(demo_sqlite_url, last_year(period))
    assert orders > 0 and prev_orders > 0
    kpis = _section(report, "kpis")
    assert kpis.message is None
    kpi = _kpi(kpis, "Revenue")
    assert kpi.kind == "money" and kpi.value == pytest.approx(revenue / 100)
    assert kpi.vs_previous == pytest.approx((revenue - prev_revenue) / prev_revenue)
    if year_revenue:
        assert kpi.vs_last_year == pytest.approx((revenue - year_revenue) / year_revenue)
    assert _kpi(kpis, "Orders").value == orders
    assert _kpi(kpis, "Orders").vs_previous == pytest.approx((orders - prev_orders) / prev_orders)
    assert _kpi(kpis, "Average order value").value == pytest.approx(revenue / 100 / orders)
    assert report.cover_kpis == kpis.kpis[:4]

    trend = _section(report, "trend")
    (table,) = trend.tables
    assert [r["period"] for r in table.rows] == [
        period.start + dt.timedelta(days=i) for i in range(period.days)
    ]
    assert sum(r["revenue"] for r in table.rows) == pytest.approx(revenue / 100)
    assert sum(r["orders"] for r in table.rows) == orders
    assert len(trend.charts) == 1 and len(trend.charts[0].figure.data) == 2

    platforms, categories = _section(report, "sales_breakdown").tables
    assert sum(r["revenue"] for r in platforms.rows) == pytest.approx(revenue / 100)
    assert sum(r["share"] for r in platforms.rows) == pytest.approx(1)
    assert {c.kind for c in platforms.columns} == {"text", "int", "money", "percent"}
    assert categories.rows

    (products,) = _section(report, "top_products").tables
    revenues = [r["revenue"] for r in products.rows]
    assert 0 < len(revenues) <= 10 and revenues == sorted(revenues, reverse=True)
    assert [r["rank"] for r in products.rows] == list(range(1, len(revenues) + 1))

    events = _section(report, "events")
    if events.message is None:
        for row in events.tables[0].rows:
            assert period.start <= row["date"] <= period.end
    else:
        assert events.message == "No events in this period."

    treasury = _section(report, "treasury")
    assert _kpi(treasury, "Net flow").value == pytest.approx(
        _kpi(treasury, "Inflow").value - _kpi(treasury, "Outflow").value
    )
    # the test demo has no forecast runs, scored transactions, alerts or request metrics
    assert _section(report, "forecasts").message == "No forecast has been fitted yet."
    assert _section(report, "anomalies").message == "Transactions have not been scored yet."
    assert _section(report, "alerts").message == "No alerts fired in this period."
    assert _section(report, "system").message == (
        "No request metrics were recorded in this period."
    )
    insights = _section(report, "insights")
    assert insights.insights or insights.message
    for insight in insights.insights:
        assert insight.recommendation


def test_period_without_data_has_messages_not_errors(demo_app):
    period = Period("monthly", dt.date(2001, 1, 1), dt.date(2001, 1, 31), "UTC")
    with demo_app.server.app_context():
        report = build_report(period, locale="en")
    kpis = _section(report, "kpis")
    assert kpis.message == "No sales in this period."
    assert _kpi(kpis, "Revenue").value == 0 and _kpi(kpis, "Revenue").vs_previous is None
    for key in ("trend", "sales_breakdown"):
        assert _section(report, key).message == "No sales in this period."
    assert _section(report, "top_products").message == "No products sold in this period."
    assert _section(report, "events").message == "No events in this period."
    assert _section(report, "alerts").message == "No alerts fired in this period."


def test_alerts_of_the_period_and_their_insight(demo_app, demo_sqlite_url):
    period = Period("weekly", dt.date(2026, 11, 23), dt.date(2026, 11, 29), "UTC")
    at = dt.datetime(2026, 11, 25, 10, 0)
    rows = [
        # critical, acknowledged after 10 min and resolved after 30 min
        ("critical", at, at + dt.timedelta(minutes=10), at + dt.timedelta(minutes=30)),
        # warning, acknowledged after 20 min, still open
        ("warning", at, at + dt.timedelta(minutes=20), None),
        # outside the period: not counted
        ("critical", dt.datetime(2026, 11, 30, 0, 0), None, None),
    ]
    engine = make_engine(demo_sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            insert(Alert),
            [
                {
                    "fingerprint": f"fp{i}",
                    "name": f"Test alert {i}",
                    "severity": severity,
                    "state": "resolved" if resolved else "firing",
                    "started_at": fired,
                    "fired_at": fired,
                    "last_seen_at": fired,
                    "acknowledged_at": acked,
                    "resolved_at": resolved,
                    "labels": {},
                    "annotations": {},
                }
                for i, (severity, fired, acked, resolved) in enumerate(rows)
            ],
        )
    engine.dispose()
    with demo_app.server.app_context():
        report = build_report(period, ["alerts", "insights"], locale="en")
    assert [s.key for s in report.sections] == ["alerts", "insights"]
    alerts = _section(report, "alerts")
    assert _kpi(alerts, "Alerts fired").value == 2
    assert _kpi(alerts, "Mean time to acknowledge (minutes)").value == pytest.approx(15.0)
    assert _kpi(alerts, "Mean time to resolve (minutes)").value == pytest.approx(30.0)
    by_severity = {r["severity"]: r["count"] for r in alerts.tables[0].rows}
    assert by_severity == {"emergency": 0, "critical": 1, "warning": 1, "info": 0}
    critical = [i for i in _section(report, "insights").insights if i.severity == "critical"]
    assert [i.text for i in critical] == ["Critical alerts fired in this period: 1."]
    assert report.cover_kpis and report.cover_kpis[0].label == "Revenue"  # computed for the cover


def test_korean_report_has_the_same_figures(demo_app, demo_sqlite_url):
    period = _last_month(demo_sqlite_url)
    with demo_app.server.app_context():
        english = build_report(period, ["kpis", "trend"], locale="en")
        korean = build_report(period, ["kpis", "trend"], locale="ko")
    assert korean.locale == "ko"
    assert korean.period_label == f"{period.start.year}년 {period.start.month}월"
    assert [k.label for k in korean.cover_kpis] == ["매출", "주문", "평균 주문 금액", "활성 고객"]
    assert [k.value for k in korean.cover_kpis] == [k.value for k in english.cover_kpis]
    assert [k.vs_previous for k in korean.cover_kpis] == [k.vs_previous for k in english.cover_kpis]
    assert _section(korean, "trend").tables[0].rows == _section(english, "trend").tables[0].rows
    assert korean.labels["vs_previous"] and "%(page)s" in korean.labels["page"]


def test_unknown_sections_are_refused(demo_app, demo_sqlite_url):
    period = _last_month(demo_sqlite_url)
    with demo_app.server.app_context(), pytest.raises(ReportError, match="bogus"):
        build_report(period, ["kpis", "bogus"])


def test_without_an_app_context_it_reads_the_database_in_english(demo_app, demo_sqlite_url):
    """Jobs and the CLI: the app binds the engine; outside its context nothing is cached and the
    texts stay in English."""
    period = _last_month(demo_sqlite_url)
    revenue, _orders = _sums(demo_sqlite_url, period)
    report = build_report(period, ["kpis"], locale="ko", currency="EUR")
    assert report.cover_kpis[0].label == "Revenue"
    assert report.cover_kpis[0].value == pytest.approx(revenue / 100)


def test_flagged_transactions_are_the_anomalies_and_an_insight(demo_app, demo_sqlite_url):
    from bi_app.db.model_models import TransactionFinding
    from bi_app.db.models import Account, Transaction

    period = _last_month(demo_sqlite_url)
    lo = dt.datetime.combine(period.start, dt.time.min)
    hi = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time.min)
    engine = make_engine(demo_sqlite_url)
    with engine.begin() as conn:
        picked = conn.execute(
            select(Transaction.id, Transaction.reference, Transaction.amount_cents)
            .join(Account, Account.id == Transaction.account_id)
            .where(
                Account.currency == "EUR",
                Transaction.occurred_at >= lo,
                Transaction.occurred_at < hi,
            )
            .order_by(Transaction.id)
            .limit(3)
        ).all()
        assert len(picked) == 3
        conn.execute(
            insert(TransactionFinding),
            [
                {
                    "transaction_id": tx_id,
                    "score": score,
                    "level": level,
                    "factors": [],
                    "action": "review",
                    "large": False,
                    "scored_at": hi,
                }
                for (tx_id, _ref, _amount), (score, level) in zip(
                    picked, [(0.9, "critical"), (0.7, "high"), (0.4, "low")]
                )
            ],
        )
    engine.dispose()
    with demo_app.server.app_context():
        report = build_report(period, ["anomalies", "insights"], locale="en")
    (table,) = _section(report, "anomalies").tables
    assert [r["reference"] for r in table.rows] == [str(ref) for _id, ref, _a in picked]
    assert [r["level"] for r in table.rows] == ["critical", "high", "low"]
    assert [r["amount"] for r in table.rows] == [a / 100 for _id, _ref, a in picked]
    texts = [i.text for i in _section(report, "insights").insights]
    assert "High-risk transactions flagged in this period: 2." in texts


def test_forecast_section_draws_the_stored_values_in_major_units(demo_app, demo_sqlite_url):
    """The forecasts store revenue in the currency's major units: the report draws them as they
    are (not divided by 100 a second time) and lists the run's quality."""
    from tests.integration.test_forecast_filters import D0, _points, _run

    engine = make_engine(demo_sqlite_url)
    try:
        with engine.begin() as conn:
            run = _run(conn, "revenue", D0 - dt.timedelta(days=1))
            _points(conn, run, [(k, 1234.5, 1000.0, 1500.0, 1300.0) for k in range(7)])
            from bi_app.db.forecast_models import ForecastRun

            conn.execute(
                ForecastRun.__table__.update()
                .where(ForecastRun.__table__.c.id == run)
                .values(
                    quality={
                        "mape": 0.1,
                        "baseline_mape": 0.2,
                        "coverage": 0.8,
                        "beats_baseline": True,
                        "coverage_ok": True,
                    }
                )
            )
    finally:
        engine.dispose()
    period = Period("custom", D0, D0 + dt.timedelta(days=6), "UTC")
    with demo_app.server.app_context():
        from bi_app.data.cache import invalidate

        invalidate("forecasts")
        report = build_report(period, ["forecasts"])
    section = _section(report, "forecasts")
    (quality,) = section.tables[0].rows
    assert (quality["mape"], quality["baseline"], quality["coverage"]) == (0.1, 0.2, 0.8)
    figure = section.charts[0].figure
    ys = [list(trace.y) for trace in figure.data]
    assert [1234.5] * 7 in ys and [1300.0] * 7 in ys
