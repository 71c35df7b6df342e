"""/admin/import: upload platforms, categories, customers, products, orders, visits or event
figures (admins only)."""

import dash

from bi_app.i18n import N_
from bi_app.importing import KINDS, MAX_UPLOAD_BYTES
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import admin_import_view as view

dash.register_page(
    __name__,
    path="/admin/import",
    name=N_("Import"),
    group="Admin",
    order=91,
    roles=Page.ADMIN_IMPORT,
)


def layout(**query):
    return view.layout(
        [(k.name, k.label) for k in KINDS.values()],
        MAX_UPLOAD_BYTES // 1024 // 1024,
        current_viewer(),
    )
