"""/admin/import: upload customers, products, orders, visits or event figures (admins only)."""
import dash

from bi_app.importing import KINDS, MAX_UPLOAD_BYTES
from bi_app.roles import Page
from components.import_view import import_page

dash.register_page(__name__, path="/admin/import", name="Import", group="Admin", order=91, roles=Page.ADMIN_IMPORT)


def layout(**query):
    return import_page([(k.name, k.label) for k in KINDS.values()], MAX_UPLOAD_BYTES // 1024 // 1024)
