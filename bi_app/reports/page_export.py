"""``GET /export/page/<page>.pdf?<the page's own query string>``: a dashboard page as a PDF report.

The page (``overview``, ``sales``, ``orders``, ``customers``, ``events``, ``treasury``,
``forecasts``) names its sections (:data:`EXPORT_PAGES`); its URL filters are read with the
parser the page itself uses (:func:`bi_app.filters.load_filter_context`), so the file and the
page agree: the date range or preset (resolved against today in the business time zone; the
page's default range when none) becomes the report's period, and the platforms and categories
narrow the sections that can be filtered. The PDF speaks the user's language.

The user must be allowed to open the page (its ``roles`` in the page registry); an unknown page
or a filter the page would have to correct is refused with a 400 and a message that says why.
Anonymous requests never get here: the request guard sends them to the login form.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import flask

from bi_app.i18n import _

__all__ = [
    "EXPORT_PAGES",
    "ExportPage",
    "PageExportError",
    "export_href",
    "export_page_view",
    "plan_export",
    "register_page_export",
]

log = logging.getLogger(__name__)
ROUTE = "export/page/<page>.pdf"
ENDPOINT = "bi_page_export"
FILTER_KEYS = ("platform", "category")


@dataclass(frozen=True)
class ExportPage:
    slug: str  # the file name's start and the route's <page>
    path: str  # the dashboard page's path (as registered with Dash)
    sections: tuple[str, ...]  # report sections, keys of bi_app.reports.model.SECTIONS
    filtered: bool  # the page applies the platform and category filters


EXPORT_PAGES: dict[str, ExportPage] = {
    page.slug: page
    for page in (
        ExportPage(
            "overview", "/", ("kpis", "trend", "sales_breakdown", "top_products", "insights"), True
        ),
        ExportPage(
            "sales",
            "/sales",
            ("kpis", "trend", "sales_breakdown", "top_products", "insights"),
            True,
        ),
        ExportPage("orders", "/orders", ("kpis", "trend", "sales_breakdown", "top_products"), True),
        ExportPage("customers", "/customers", ("kpis", "customers"), True),
        ExportPage("events", "/events", ("events",), False),
        ExportPage("treasury", "/treasury", ("treasury", "anomalies"), False),
        ExportPage("forecasts", "/forecasts", ("forecasts",), True),
    )
}
STATUS_PAGES = ("sales", "orders")  # pages with an order status filter of their own
PATH_SLUGS = {page.path: page.slug for page in EXPORT_PAGES.values()}


class PageExportError(Exception):
    """The export cannot be made as asked: ``status`` and a message safe to show."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ExportPlan:
    page: ExportPage
    start: dt.date
    end: dt.date
    platforms: tuple[str, ...] | None
    categories: tuple[str, ...] | None
    statuses: tuple[str, ...] | None = None  # the page's order status filter (not applied)

    @property
    def filename(self) -> str:
        return f"{self.page.slug}-{self.start.isoformat()}-{self.end.isoformat()}.pdf"


def export_href(path: str, prefix: str = "/") -> str | None:
    """Where the PDF of the page at ``path`` is (without its query string); None when the page
    has no PDF export."""
    slug = PATH_SLUGS.get(path)
    return None if slug is None else f"{prefix}{ROUTE.replace('<page>', slug)}"


def plan_export(slug: str, query: Mapping[str, object], today: dt.date | None = None) -> ExportPlan:
    """The page and its URL ``query`` as the report to make: page, period and filters.

    Raises :class:`PageExportError` for an unknown page, for a filter the page would correct
    (an invalid date, an unknown platform or preset...) and for a range the report cannot cover.
    ``today``: the business time zone's date (default: now)."""
    from bi_app.filters import load_filter_context, local_today, parse_statuses

    page = EXPORT_PAGES.get(slug)
    if page is None:
        raise PageExportError(
            _(
                "Unknown page %(page)s: a PDF can be made of %(pages)s.",
                page=repr(str(slug)[:40]),
                pages=", ".join(EXPORT_PAGES),
            )
        )
    values = {k: v for k, v in query.items() if page.filtered or k not in FILTER_KEYS}
    ctx = load_filter_context(values)
    statuses, status_notices = (
        parse_statuses(query.get("status")) if page.slug in STATUS_PAGES else (None, [])
    )
    if ctx.parsed.notices or status_notices:
        raise PageExportError(" ".join([*ctx.parsed.notices, *status_notices]))
    filters = ctx.parsed.filters
    today = today or local_today()
    start, end = filters.start, min(filters.end, today)  # the days to come have no figures yet
    if start > today:
        raise PageExportError(_("The page's date range starts in the future: nothing to export."))
    return ExportPlan(page, start, end, filters.platforms, filters.categories, statuses)


def _message(text: str, status: int) -> flask.Response:
    return flask.Response(text, status=status, mimetype="text/plain")


def export_page_view(page: str) -> flask.Response:
    """The PDF of dashboard ``page`` with the filters of the request's query string."""
    from bi_app import auth
    from bi_app.auth.pages import page_roles
    from bi_app.auth.views import state
    from bi_app.i18n import current_locale
    from bi_app.reports.content import ReportFilters, build_report
    from bi_app.reports.pdf import render_pdf
    from bi_app.reports.periods import ReportError, custom_period
    from bi_app.roles import ALL_ROLES

    auth.require_role(ALL_ROLES)  # signed in at all (401 otherwise)
    export = EXPORT_PAGES.get(page)
    registered = export and auth.page_for_path(state().pages(), export.path)
    if export is None or registered is None:
        return _message(
            _(
                "Unknown page %(page)s: a PDF can be made of %(pages)s.",
                page=repr(str(page)[:40]),
                pages=", ".join(EXPORT_PAGES),
            ),
            400,
        )
    auth.require_role(page_roles(registered))  # 403 for a role that may not open the page
    try:
        plan = plan_export(page, flask.request.args)
        period = custom_period(plan.start, plan.end)
    except (PageExportError, ReportError) as exc:
        return _message(str(exc), getattr(exc, "status", 400))
    filters = ReportFilters(plan.platforms, plan.categories)
    locale = current_locale()
    try:
        report = build_report(period, plan.page.sections, locale=locale, filters=filters)
        report = dataclasses.replace(
            report,
            title=_("Report: %(page)s", page=_page_name(export)),
            filters_label=_with_statuses(report.filters_label, plan.statuses),
        )
        body = render_pdf(report)
    except Exception:  # a broken renderer must not show a traceback
        log.exception("page export %s failed (%s..%s)", page, plan.start, plan.end)
        return _message(_("The PDF could not be made right now. Try again in a moment."), 503)
    log.info("page export: %s %s..%s by %s", page, plan.start, plan.end, auth.current_username())
    return flask.Response(
        body,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{plan.filename}"',
            "Cache-Control": "no-store",
        },
    )


def _with_statuses(label: str | None, statuses: tuple[str, ...] | None) -> str | None:
    """The report's filter statement, saying that the page's status filter is not applied (the
    report's sales figures have no status filter)."""
    if not statuses:
        return label
    note = _(
        "Order statuses %(statuses)s: not applied, the report's figures are not filtered by "
        "status.",
        statuses=", ".join(statuses),
    )
    return " · ".join(t for t in (label, note) if t)


def _page_name(export: ExportPage) -> str:
    """The page's name as the sidebar shows it, in the current language."""
    from bi_app.auth.views import state

    for registered in state().pages().values():
        if registered.get("path") == export.path:
            return _(str(registered.get("name") or export.slug))
    return export.slug


def register_page_export(server: flask.Flask, routes_prefix: str = "/") -> None:
    """Add ``GET {routes_prefix}export/page/<page>.pdf`` to ``server``."""
    server.add_url_rule(f"{routes_prefix}{ROUTE}", ENDPOINT, export_page_view, methods=["GET"])
