"""/admin/reference: sales platforms and product categories: list, add, rename (admins only;
layout: components/admin_reference_view)."""

import dash

from bi_app import reference
from bi_app.errors import ServiceUnavailable
from bi_app.i18n import N_, _
from bi_app.roles import Page
from components import admin_reference_view as view


def _title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("%(page)s · bi-app", page=_("Reference data"))


dash.register_page(
    __name__,
    path="/admin/reference",
    name=N_("Reference data"),
    group="Admin",
    order=92,
    title=_title,
    roles=Page.ADMIN_REFERENCE,
)


def layout(**query):
    try:
        rows = reference.list_all()
    except ServiceUnavailable:
        return view.unavailable()
    return view.layout(
        [(k.name, k.label, k.singular, rows[k.name]) for k in reference.KINDS.values()]
    )
