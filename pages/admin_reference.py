"""/admin/reference: sales platforms and product categories: list, add, rename (admins only;
layout: components/admin_reference_view)."""

import dash

from bi_app import reference
from bi_app.errors import ServiceUnavailable
from bi_app.roles import Page
from components import admin_reference_view as view

dash.register_page(
    __name__,
    path="/admin/reference",
    name="Reference data",
    group="Admin",
    order=92,
    title="Reference data · bi-app",
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
