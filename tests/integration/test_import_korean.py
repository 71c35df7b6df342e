"""Imports, reference data and downloads speak the user's language: a file with a bad row is
reported in Korean to a Korean user (also when the import runs on the background thread, which
carries the locale of the request that started it) and, the same file, in the same English as
before to everyone else."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import insert

from bi_app import reference
from bi_app.db.engine import make_engine
from bi_app.db.models import SalesPlatform
from bi_app.export import ExportColumn, ExportError, export_rows
from bi_app.importing import get_run, import_file, service
from bi_app.reference import ReferenceDataError
from tests.conftest import migrate

pytestmark = pytest.mark.integration

# two customers, the second with a birth year that is no number
BAD_ROW = b"external_id,name,birth_year\nC-1,Ada,1985\nC-2,Bob,abc\n"
ENGLISH = {
    "cell": "expected a whole number",
    "summary": "1 of 2 row(s) have errors (1 problem(s)); nothing was imported. Fix the rows "
    "listed in the report and upload the file again.",
}
KOREAN = {
    "cell": "정수여야 합니다",
    "summary": "2행 중 1행에 오류가 있습니다(문제 1건). 아무것도 가져오지 않았습니다. 보고서에 "
    "나온 행을 고친 뒤 파일을 다시 업로드하세요.",
}


@pytest.fixture
def app(sqlite_url, app_factory):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(insert(SalesPlatform), [{"code": "web", "name": "Web"}])
    engine.dispose()
    return app_factory(sqlite_url)


@pytest.fixture
def engine(sqlite_url, app):
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def _import(engine):
    return import_file(engine, BAD_ROW, "customers.csv", "customers", actor="tester")


@pytest.mark.parametrize("locale, expected", [("ko", KOREAN), ("en", ENGLISH)])
def test_a_bad_row_is_reported_in_the_users_language(app, engine, locale, expected):
    with app.server.app_context(), force_locale(locale):
        outcome = _import(engine)
    assert outcome.status == "rejected" and outcome.rows_failed == 1
    [error] = outcome.errors
    assert (error.row, error.column, error.value) == (3, "birth_year", "abc")
    assert error.message == expected["cell"]
    assert outcome.message == expected["summary"]
    stored = get_run(engine, outcome.run_id)  # what Admin → Import shows
    assert stored["message"] == expected["summary"]
    assert stored["errors"][0]["message"] == expected["cell"]


def test_outside_an_app_the_messages_are_the_english_ones(engine):
    outcome = _import(engine)
    assert outcome.errors[0].message == ENGLISH["cell"]
    assert outcome.message == ENGLISH["summary"]


@pytest.mark.parametrize("locale, expected", [("ko", KOREAN), ("en", ENGLISH)])
def test_a_background_import_speaks_the_language_of_the_request_that_started_it(
    app, engine, locale, expected
):
    headers = {"Accept-Language": locale}
    with app.server.test_request_context("/admin/import", headers=headers):
        run_id = service.start_import(
            engine, BAD_ROW, "customers.csv", "customers", actor="tester", dry_run=True
        )
    service._executor.submit(lambda: None).result(timeout=120)  # the import ran before it
    stored = get_run(engine, run_id)
    assert stored["status"] == "rejected", stored["message"]
    assert stored["message"] == expected["summary"]
    assert stored["errors"][0]["message"] == expected["cell"]


def test_file_errors_reference_data_and_downloads_in_korean(app, engine):
    with app.server.app_context(), force_locale("ko"):
        empty = import_file(engine, b"   ", "empty.csv", "customers", actor="tester")
        with pytest.raises(ReferenceDataError) as duplicate:
            reference.add("platforms", "web", "Again", actor="tester", engine=engine)
        with pytest.raises(ExportError) as refused:
            export_rows([{"a": 1}], [ExportColumn("a", "A")], "pdf", name="x", now=None)
    assert empty.message == "파일이 비어 있습니다. 아무것도 가져오지 않았습니다."
    assert str(duplicate.value) == (
        "코드가 'web'인 플랫폼이 이미 있습니다(“Web”). 대신 그 이름을 바꾸세요."
    )
    assert str(refused.value).startswith("알 수 없는 다운로드 형식 'pdf'")
    with app.server.app_context(), force_locale("en"):
        english = import_file(engine, b"   ", "empty.csv", "customers", actor="tester")
    assert english.message == "The file is empty. Nothing was imported."


def test_an_order_export_describes_itself_in_the_users_language_but_json_stays_english(app):
    import datetime as dt

    from bi_app.data.orders import OrderQuery
    from bi_app.order_export import columns, describe

    q = OrderQuery(dt.date(2024, 1, 1), dt.date(2024, 1, 31), sort="amount_cents")
    now = dt.datetime(2024, 2, 1, 9, 30)
    with app.server.app_context(), force_locale("ko"):
        korean = dict(describe(q, 1234, now, "KRW"))
        headers = [c.header for c in columns()]
        data = dict(describe(q, 1234, now, "KRW", localized=False))
    assert korean["내보내기"] == "주문" and korean["행 수"] == "1,234"
    assert korean["정렬 기준"] == "금액, 내림차순" and korean["플랫폼"] == "전체"
    assert headers[:2] == ["주문", "주문 시각 (UTC)"]
    assert data["Sorted by"] == "amount, descending" and data["Platforms"] == "all"
    with app.server.app_context(), force_locale("en"):
        english = dict(describe(q, 1234, now, "KRW"))
    assert english == data
    assert english["Period"] == "2024-01-01 to 2024-01-31 (days of the order time, UTC)"
