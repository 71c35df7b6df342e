"""Admin → Integrations builders (components/admin_integrations_view.py): service and channel rows
as bi_app.integrations returns them in, a component tree out; assertions walk the tree."""

from __future__ import annotations

import json

from bi_app.integrations.channels import ChannelRow
from bi_app.integrations.services import ServiceRow
from components import admin_integrations_view as view
from components.ids import AdminIntegrations as Ids


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, (list, tuple)):
        for child in children:
            yield from _walk(child)
    elif children is not None:
        yield from _walk(children)


def _texts(node) -> list[str]:
    return [n for n in _walk(node) if isinstance(n, str)]


def _ids(node) -> set[str]:
    """Every component id in the tree; pattern-matching dict ids as sorted JSON."""
    return {
        json.dumps(i, sort_keys=True) if isinstance(i, dict) else i
        for i in (getattr(n, "id", None) for n in _walk(node))
        if i is not None
    }


def _key(component_id: dict) -> str:
    return json.dumps(component_id, sort_keys=True)


SERVICES = [
    ServiceRow(
        "core-api", "https://core.example/health", 200, 5.0, "settings", True, auth_in_settings=True
    ),
    ServiceRow(
        "payments",
        "https://pay.example/health",
        204,
        2.5,
        "admin",
        False,
        7,
        "BI_SECRET_PAY_AUTH",
        False,
    ),
]
CHANNELS = [
    ChannelRow(
        "email", "http", True, "https://stats.example/{event_code}", "X-Api-Key", True, 4.0, True
    ),
    ChannelRow("social", "demo", False),
]
EVENTS = [(3, "EV-3 — Autumn fair"), (1, "EV-1 — Spring fair")]


def test_the_layout_holds_every_region_and_each_rows_name():
    tree = view.layout(SERVICES, CHANNELS, ["email", "social"], EVENTS)
    ids = _ids(tree)
    for region in (
        Ids.SERVICES_TABLE,
        Ids.SERVICES_VERSION_STORE,
        Ids.SERVICE_MESSAGE,
        Ids.SERVICE_EDIT_STORE,
        Ids.SERVICE_FORM_TITLE,
        Ids.SERVICE_SAVE,
        Ids.SERVICE_NEW,
        Ids.DELETE_MODAL,
        Ids.DELETE_STORE,
        Ids.CHANNELS_TABLE,
        Ids.CHANNELS_VERSION_STORE,
        Ids.CHANNEL_MESSAGE,
        Ids.CHANNEL_SAVE,
        Ids.CHANNEL_EVENT,
    ):
        assert region in ids, region
    texts = _texts(tree)
    for name in ("core-api", "payments", "email", "social"):
        assert name in texts, name
    assert "https://pay.example/health" in texts and "X-Api-Key: ••••••••" in texts


def test_every_row_gets_its_own_buttons_and_settings_services_stay_read_only():
    ids = _ids(view.layout(SERVICES, CHANNELS, ["email", "social"], EVENTS))
    for name in ("core-api", "payments"):
        assert _key(Ids.service_check(name)) in ids and _key(Ids.service_result(name)) in ids
    for action in (
        Ids.service_edit,
        Ids.service_toggle,
        Ids.service_delete,
    ):  # only the admin row's
        kind = action(7)["type"]
        assert {i for i in ids if f'"type": "{kind}"' in i} == {_key(action(7))}
    for channel in ("email", "social"):
        for factory in (Ids.channel_edit, Ids.channel_test, Ids.channel_result):
            assert _key(factory(channel)) in ids


def test_the_event_dropdown_offers_the_newest_event_first():
    dropdown = next(
        n
        for n in _walk(view.layout([], CHANNELS, ["email"], EVENTS))
        if getattr(n, "id", None) == Ids.CHANNEL_EVENT
    )
    assert dropdown.value == 3
    assert [o["label"] for o in dropdown.options] == ["EV-3 — Autumn fair", "EV-1 — Spring fair"]


def test_no_services_and_no_events_say_so():
    tree = view.layout([], CHANNELS, ["email"], [])
    assert "No external services are monitored yet. Add one below." in _texts(tree)
    dropdown = next(n for n in _walk(tree) if getattr(n, "id", None) == Ids.CHANNEL_EVENT)
    assert dropdown.value is None and dropdown.placeholder == "No events yet"
