"""Reference data (issue 10): admins add and rename sales platforms and product categories; every
change is validated, audited and reaches the cached catalogue at once. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert, select

from bi_app import reference
from bi_app.db.engine import make_engine
from bi_app.db.models import AuditLog, Category, SalesPlatform
from bi_app.errors import ServiceUnavailable
from bi_app.reference import ReferenceDataError
from tests.conftest import migrate

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path) -> Engine:
    url = (
        f"sqlite:///{tmp_path / 'reference.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(SalesPlatform), [{"code": "web", "name": "Web"}])
        conn.execute(insert(Category), [{"code": "electronics", "name": "Electronics"}])
    yield engine
    engine.dispose()


def audits(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(AuditLog.action, AuditLog.username, AuditLog.target, AuditLog.detail)
                .where(AuditLog.action.like("reference.%"))
                .order_by(AuditLog.id)
            )
        ]


def test_add_and_rename_are_stored_and_audited(engine):
    added = reference.add("platforms", " Kiosk ", " Kiosk stand ", actor="tester", engine=engine)
    assert added.message == "Added platform kiosk “Kiosk stand”."
    assert added.rows == [
        {"code": "kiosk", "name": "Kiosk stand"},
        {"code": "web", "name": "Web"},
    ]
    renamed = reference.rename("platforms", "web", "Web shop", actor="tester", engine=engine)
    assert renamed.message == "Renamed platform web: “Web” → “Web shop”."
    assert renamed.rows[1] == {"code": "web", "name": "Web shop"}
    same = reference.rename("platforms", "web", "Web shop", actor="tester", engine=engine)
    assert not same.changed and "nothing changed" in same.message
    reference.add("categories", "toys", "Toys", actor="tester", engine=engine)
    assert reference.list_all(engine) == {
        "platforms": [
            {"code": "kiosk", "name": "Kiosk stand"},
            {"code": "web", "name": "Web shop"},
        ],
        "categories": [
            {"code": "electronics", "name": "Electronics"},
            {"code": "toys", "name": "Toys"},
        ],
    }
    assert reference.name_of("categories", "toys", engine) == "Toys"
    assert reference.name_of("categories", "nope", engine) is None
    assert audits(engine) == [
        ("reference.add", "tester", "platform:kiosk", {"name": "Kiosk stand"}),
        ("reference.rename", "tester", "platform:web", {"old": "Web", "new": "Web shop"}),
        ("reference.add", "tester", "category:toys", {"name": "Toys"}),
    ]


@pytest.mark.parametrize(
    "call, message",
    [
        (("platforms", "web", "Again"), "A platform with the code 'web' already exists (“Web”)"),
        (("platforms", "WEB", "Again"), "A platform with the code 'web' already exists"),
        (("platforms", "web shop", "Web shop"), "The code 'web shop' is not valid: use 1 to 64"),
        (("platforms", "_web", "Web"), "The code '_web' is not valid"),
        (("platforms", "x" * 65, "X"), "x…' is not valid"),
        (("platforms", "", "Web"), "Enter a code."),
        (("platforms", "kiosk", "  "), "Enter a name."),
        (("platforms", "kiosk", "k" * 129), "The name is 129 characters long; at most 128"),
        (("platforms", "kiosk", "=HYPERLINK(1)"), "The name looks like a spreadsheet formula"),
        (("platforms", "kiosk", "a\x00b"), "The name contains control characters"),
        (("payroll", "kiosk", "Kiosk"), "Unknown kind of reference data."),
        (("categories", "electronics", "Duplicate"), "A category with the code 'electronics'"),
    ],
)
def test_bad_additions_are_refused_with_a_clear_message_and_change_nothing(engine, call, message):
    before = reference.list_all(engine)
    with pytest.raises(ReferenceDataError) as info:
        reference.add(*call, actor="tester", engine=engine)
    assert message in str(info.value)
    assert reference.list_all(engine) == before and audits(engine) == []


def test_bad_renames_are_refused(engine):
    for code, name, message in (
        ("kiosk", "Kiosk", "There is no platform with the code 'kiosk'."),
        (None, "Kiosk", "Choose the platform to rename."),
        ("web", "", "Enter a name."),
    ):
        with pytest.raises(ReferenceDataError, match=message):
            reference.rename("platforms", code, name, actor="tester", engine=engine)
    assert reference.name_of("platforms", "web", engine) == "Web" and audits(engine) == []


def test_a_database_outage_is_a_safe_message(tmp_path):
    gone = make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.sqlite'}")
    with pytest.raises(ServiceUnavailable) as info:
        reference.add("platforms", "kiosk", "Kiosk", actor="tester", engine=gone)
    assert (
        str(info.value) == "Saving reference data is unavailable right now; try again in a moment."
    )
    with pytest.raises(ServiceUnavailable, match="^Reference data is unavailable"):
        reference.list_all(gone)


def test_changes_reach_the_cached_catalogue_at_once(demo_app):
    from bi_app.data import catalog

    with demo_app.server.app_context():
        codes = [p["code"] for p in catalog.platforms()]  # now cached
        assert "kiosk" not in codes
        reference.add("platforms", "kiosk", "Kiosk", actor="tester")
        assert {"code": "kiosk", "name": "Kiosk"} in catalog.platforms()
        reference.rename("platforms", "kiosk", "Kiosk stand", actor="tester")
        assert catalog.display_names()["platform"]["kiosk"] == "Kiosk stand"
        before = catalog.categories()
        reference.add("categories", "toys", "Toys", actor="tester")
        assert catalog.categories() == sorted(
            [*before, {"code": "toys", "name": "Toys"}], key=lambda c: (c["name"], c["code"])
        )


def _save_body(app, kind: str, code: str, name: str) -> dict:
    """The add button's callback request, as the browser sends it."""
    from components.ids import AdminReference as ids

    def prop(component: dict, name: str, value=None) -> dict:
        return {"id": component, "property": name, "value": value}

    outputs = [
        (ids.message(kind), "children"),
        (ids.message(kind), "color"),
        (ids.message(kind), "is_open"),
        (ids.table(kind), "children"),
        (ids.rename_code(kind), "options"),
        (ids.add_code(kind), "value"),
        (ids.add_name(kind), "value"),
    ]
    return {
        "output": next(k for k in app.callback_map if "admin-reference-message-alert" in k),
        "outputs": [{"id": c, "property": p} for c, p in outputs],
        "inputs": [
            prop(ids.add_button(kind), "n_clicks", 1),
            prop(ids.rename_button(kind), "n_clicks", 0),
        ],
        "state": [
            prop(ids.add_code(kind), "value", code),
            prop(ids.add_name(kind), "value", name),
            prop(ids.rename_code(kind), "value"),
            prop(ids.rename_name(kind), "value"),
        ],
        "changedPropIds": [f"{_key(ids.add_button(kind))}.n_clicks"],
    }


def _key(component: dict) -> str:
    import json

    return json.dumps(component, sort_keys=True, separators=(",", ":"))


def test_only_admins_may_open_the_page_or_change_reference_data(demo_app):
    from bi_app.extensions import db
    from tests.conftest import signed_in_client

    analyst, admin = signed_in_client(demo_app, "analyst"), signed_in_client(demo_app, "admin")
    body = _save_body(demo_app, "platforms", "kiosk", "Kiosk")
    assert analyst.post("/_dash-update-component", json=body).status_code == 403
    assert reference.name_of("platforms", "kiosk", db.require_engine()) is None
    response = admin.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    message = response.get_json()["response"][
        _key({"kind": "platforms", "type": "admin-reference-message-alert"})
    ]
    assert message == {
        "children": "Added platform kiosk “Kiosk”.",
        "color": "success",
        "is_open": True,
    }
    assert reference.name_of("platforms", "kiosk", db.require_engine()) == "Kiosk"
    with db.require_engine().connect() as conn:
        who = conn.execute(
            select(AuditLog.username, AuditLog.target).where(AuditLog.action == "reference.add")
        ).all()
    assert [tuple(w) for w in who] == [("admin", "platform:kiosk")]
