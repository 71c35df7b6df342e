"""The app shell: sidebar navigation, user box, theme switch and the page container.

:func:`app_shell` is a pure builder: ``bi_app.create_app`` sets the app's layout to a function
that, per request, passes it the signed-in user and the pages they may see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.i18n import LOCALE_NAMES, LOCALES, N_, _, current_locale
from components.ids import App, Nav

GROUPS = (N_("Business"), N_("Operations"), N_("Admin"))


def nav_sections(pages: Iterable[Mapping], allowed: set[str]) -> list[tuple[str, list[Mapping]]]:
    """Pages grouped by their ``group`` (in :data:`GROUPS` order), each group sorted by ``order``.

    Pages without a known group (the 404 page, the login form) are not navigation targets.
    """
    sections = []
    for group in GROUPS:
        members = [p for p in pages if p.get("group") == group and p["path"] in allowed]
        members.sort(key=lambda p: (p.get("order") is None, p.get("order") or 0, p["name"]))
        if members:
            sections.append((group, members))
    return sections


def sidebar(
    sections: list[tuple[str, list[Mapping]]],
    username: str | None,
    role: str | None,
    csrf: str | None,
) -> html.Nav:
    nav = []
    for group, pages in sections:
        nav.append(html.Div(_(group), className="app-nav-group text-uppercase small fw-semibold"))
        nav.extend(
            dbc.NavLink(
                _(p["name"]),
                href=p["relative_path"],
                id=Nav.link(p["path"], group.lower()),
                className="app-nav-link",
            )
            for p in pages
        )
    return html.Nav(
        [
            html.A(
                "bi-app",
                href="/",
                className="app-brand d-block fw-bold fs-5 mb-3 text-decoration-none",
            ),
            dbc.Nav(nav, vertical=True, pills=True, className="app-nav flex-column mb-auto"),
            html.Div(
                [
                    _user_box(username, role, csrf),
                    dbc.Switch(
                        id=App.THEME_SWITCH,
                        label=_("Dark mode"),
                        value=False,
                        className="app-theme-switch small mt-2 mb-0",
                    ),
                ],
                className="app-sidebar-footer pt-3 border-top",
            ),
        ],
        id=App.SIDEBAR,
        className="app-sidebar d-flex flex-column p-3",
        **{"aria-label": _("Main")},
    )


def _user_box(username: str | None, role: str | None, csrf: str | None) -> html.Div:
    if not username:
        return html.Div(html.A(_("Log in"), href="/login"), id=App.USER_BADGE, className="small")
    return html.Div(
        [
            html.Div(
                [
                    html.Span(username, className="fw-semibold me-2 text-truncate"),
                    dbc.Badge(role or "", color="secondary", className="app-role-badge"),
                ],
                className="d-flex align-items-center",
            ),
            html.Form(
                [
                    dcc.Input(type="hidden", name="csrf_token", value=csrf or ""),
                    html.Button(
                        _("Log out"),
                        type="submit",
                        className="btn btn-link btn-sm p-0 d-block app-logout",
                    ),
                    html.Button(
                        _("Sign out everywhere"),
                        type="submit",
                        formAction="/logout?everywhere=1",
                        className="btn btn-link btn-sm p-0 d-block app-logout",
                    ),
                ],
                method="POST",
                action="/logout",
                className="mt-1",
            ),
            language_switch(csrf),
        ],
        id=App.USER_BADGE,
        className="small",
    )


def language_switch(csrf: str | None) -> html.Form:
    """One button per language, each named in its own language; the current one is pressed.
    It posts to ``/language`` (stored on the user); ``assets/locale.js`` fills in the page to
    come back to."""
    active = current_locale()
    return html.Form(
        [
            dcc.Input(type="hidden", name="csrf_token", value=csrf or ""),
            dcc.Input(type="hidden", name="next", value="/", className="app-language-next"),
            html.Div(
                [
                    html.Button(
                        LOCALE_NAMES[code],
                        type="submit",
                        name="locale",
                        value=code,
                        lang=code,
                        id=App.language(code),
                        className="btn btn-sm "
                        + ("btn-secondary" if code == active else "btn-outline-secondary"),
                        **{"aria-pressed": "true" if code == active else "false"},
                    )
                    for code in LOCALES
                ],
                className="btn-group btn-group-sm",
                role="group",
                **{"aria-label": _("Language")},
            ),
        ],
        method="POST",
        action="/language",
        className="app-language-form mt-2",
    )


# where the badge leads: the open critical and emergency alerts (components/ops_alerts_view.py
# reads the same query)
ALERT_BADGE_HREF = "/ops/alerts?severity=critical,emergency&state=open"


def alert_badge_values(count: int) -> tuple[bool, str]:
    """(hidden, text) of the header's badge for ``count`` open critical alerts."""
    return count <= 0, str(count) if count > 0 else ""


def export_targets(visible: Iterable[Mapping], prefix: str = "/") -> dict[str, str]:
    """``{page path: URL of its PDF export}`` for the dashboard pages among ``visible`` (the pages
    the user may open); the app's ``prefix`` is in both (as the browser sees them)."""
    from bi_app.reports.page_export import export_href

    targets = {}
    for page in visible:
        href = export_href(str(page.get("path")), prefix)
        if href is not None:
            path = "/" + str(page.get("path", "")).strip("/")
            shown = prefix.rstrip("/") + path if prefix != "/" else path
            targets[shown] = href
    return targets


def export_link(targets: Mapping[str, str]) -> html.Div:
    """The header's link to the current page's PDF; hidden until a callback knows the page (see
    callbacks/shell.py), and on pages without an export or that the user may not open."""
    return html.Div(
        [
            dcc.Store(id=App.EXPORT_PDF_STORE, data=dict(targets)),
            html.A(
                _("Export this page as PDF"),
                id=App.EXPORT_PDF_LINK,
                href="",
                hidden=True,
                target="_blank",
                rel="noopener",
                title=_("The page's current filters, as a PDF report"),
                className="app-export-pdf btn btn-sm btn-outline-secondary me-2",
            ),
        ],
        className="app-export",
    )


def _prefix() -> str:
    try:
        return dash.get_relative_path("/")
    except (AttributeError, KeyError):  # built outside an app (unit tests of the shell)
        return "/"


def alert_header(signed_in: bool, export_targets: Mapping[str, str] | None = None) -> html.Div:
    """The header above every page: the link to the page's PDF export (on dashboard pages), and
    a red badge with the number of open critical and emergency alerts, hidden at 0 (and for
    signed-out visitors, whose interval never runs)."""
    label = _("open critical alerts")
    return html.Div(
        [
            export_link(export_targets or {}),
            html.A(
                [
                    html.Span(className="app-alert-bell", **{"aria-hidden": "true"}),
                    html.Span(id=App.ALERT_BADGE_COUNT, className="app-alert-count"),
                    html.Span(label, className="visually-hidden"),
                    dcc.Interval(
                        id=App.ALERT_INTERVAL, interval=_badge_ms(), disabled=not signed_in
                    ),
                ],
                id=App.ALERT_BADGE,
                href=ALERT_BADGE_HREF,
                hidden=True,
                title=label,
                className="app-alert-badge badge rounded-pill text-bg-danger text-decoration-none",
            ),
        ],
        className="app-header d-flex justify-content-end align-items-center",
    )


def _badge_ms() -> int:
    import flask

    if not flask.has_app_context() or "BI_SETTINGS" not in flask.current_app.config:
        return 30_000  # built outside an app (unit tests of the shell)
    return int(flask.current_app.config["BI_SETTINGS"].refresh_ms)


def app_shell(
    pages: Iterable[Mapping],
    visible: Iterable[Mapping],
    username: str | None,
    role: str | None,
    csrf: str | None,
) -> html.Div:
    """The whole page around ``dash.page_container``: the sidebar lists the ``visible`` pages of
    all registered ``pages``, for ``username`` (None when signed out)."""
    visible = list(visible)
    sections = nav_sections(pages, {page["path"] for page in visible})
    targets = export_targets(visible, _prefix()) if username else {}
    return html.Div(
        [
            dcc.Location(id=App.URL, refresh=False),
            dcc.Store(id=App.THEME_STORE, storage_type="local"),
            html.Div(id=App.THEME_DUMMY, hidden=True),
            html.Div(id=App.NAV_SEARCH_DUMMY, hidden=True),
            sidebar(sections, username, role, csrf),
            html.Main(
                [alert_header(bool(username), targets), dash.page_container],
                className="app-main flex-grow-1 p-3 p-lg-4",
            ),
        ],
        className="app-shell d-flex",
    )
