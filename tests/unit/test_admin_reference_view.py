"""Builders of Admin → Reference data: the list, the rename choices, the page."""

from __future__ import annotations

from dash.development.base_component import Component

from components import admin_reference_view as view
from components.ids import AdminReference

ROWS = [{"code": "kiosk", "name": "Kiosk"}, {"code": "web", "name": "=Web <b>shop</b>"}]


def _texts(component) -> list[str]:
    found = []

    def walk(node):
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, list | tuple):
            for child in node:
                walk(child)
        elif hasattr(node, "children"):
            walk(node.children)

    walk(component)
    return found


def test_the_list_shows_code_and_name_as_plain_text():
    table = view.rows_table(ROWS)
    assert _texts(table) == ["Code", "Name", "kiosk", "Kiosk", "web", "=Web <b>shop</b>"]
    assert _texts(view.rows_table([])) == ["None yet."]


def test_rename_choices_name_each_code():
    assert view.code_options(ROWS) == [
        {"label": "Kiosk (kiosk)", "value": "kiosk"},
        {"label": "=Web <b>shop</b> (web)", "value": "web"},
    ]
    assert view.outcome("Added.", ok=True) == ("Added.", "success", True)
    assert view.outcome("No.", ok=False) == ("No.", "danger", True)


def _ids(component) -> list:
    found = []

    def walk(node):
        if isinstance(node, list | tuple):
            for child in node:
                walk(child)
        elif isinstance(node, Component):
            if getattr(node, "id", None) is not None:
                found.append(node.id)
            walk(getattr(node, "children", None))

    walk(component)
    return found


def test_the_page_has_one_section_per_kind_with_its_own_widgets():
    page = view.layout(
        [("platforms", "Sales platforms", "platform", ROWS), ("categories", "Cats", "category", [])]
    )
    widgets = (
        AdminReference.message,
        AdminReference.table,
        AdminReference.add_code,
        AdminReference.add_name,
        AdminReference.add_button,
        AdminReference.rename_code,
        AdminReference.rename_name,
        AdminReference.rename_button,
    )
    expected = [AdminReference.PAGE, *[w(k) for k in ("platforms", "categories") for w in widgets]]
    assert sorted(map(str, _ids(page))) == sorted(map(str, expected))
    texts = _texts(page)
    assert "Sales platforms" in texts and "Add a platform" in texts and "Rename a category" in texts
