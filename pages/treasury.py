"""Treasury: balances by tier, flow of funds, volume over time and top counterparties
(layout: components/treasury_view)."""

import logging

import dash

from bi_app.data import treasury
from bi_app.filters import local_today
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import treasury_view as view

log = logging.getLogger(__name__)


def title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("Treasury · bi-app")


def description(**_path: object) -> str:
    """The page's meta description, in the request's language."""
    return _("Balances by account tier, flow of funds, volumes and counterparties")


dash.register_page(
    __name__,
    roles=Page.TREASURY,
    path="/treasury",
    name=N_("Treasury"),
    group="Business",
    order=40,
    title=title,
    description=description,
)


def layout(**query):
    viewer = current_viewer()
    currency, latest = viewer.currency, local_today()
    try:
        currency = treasury.book_currency(viewer.currency) or viewer.currency
        latest = min(treasury.last_day(currency) or latest, latest)
    except Exception:  # the cards say so; the window still defaults to the last days
        log.exception("treasury accounts unavailable")
    return view.layout(query, latest, currency, viewer)
