"""Admin → Models in a real browser: the stored versions of a model are listed with their status,
metrics and active marker; rolling back (after confirming) activates the older version, in the
page and in the database. Viewers and analysts are refused the page."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from bi_app.models import registry
from bi_app.models.transactions import MODEL_NAME
from components.ids import AdminModels
from tests.conftest import ANALYST_PASSWORD, VIEWER_PASSWORD, login

pytestmark = pytest.mark.e2e


def _train(engine, seed: int, metrics: dict) -> registry.VersionInfo:
    """A tiny real IsolationForest stored through the registry, as the training job does."""
    from sklearn.ensemble import IsolationForest

    data = np.random.default_rng(seed).normal(size=(64, 2))
    model = IsolationForest(n_estimators=5, random_state=seed).fit(data)
    training = registry.Training(
        data_from=dt.datetime(2026, 9, 1),
        data_to=dt.datetime(2026, 12, 1),
        features=["amount", "hour"],
        params={"n_estimators": 5},
        trained_by="tests",
    )
    return registry.save(engine, MODEL_NAME, model, "skops", training, metrics)


@pytest.fixture
def models_app(demo_app):
    from bi_app.extensions import db

    engine = db.require_engine()
    first = _train(engine, 1, {"rows": 1200, "anomaly_rate": 0.0123})
    second = _train(engine, 2, {"rows": 1500, "anomaly_rate": 0.0101})
    registry.record_failure(
        engine, MODEL_NAME, "skops", registry.Training(trained_by="tests"), "ValueError: no rows"
    )
    assert registry.active_version_id(engine, MODEL_NAME) == second.id
    return demo_app, engine, first


def _row(version: int) -> str:
    return f'tr.admin-models-row[data-model="{MODEL_NAME}"][data-version="{version}"]'


def test_admin_sees_the_versions_and_rolls_back(models_app, start_app):
    app, engine, first = models_app
    duo = start_app(app)
    login(duo, next_path="/admin/models")
    duo.wait_for_element(_row(3), timeout=15)
    assert "failed" in duo.find_element(_row(3)).text
    assert "ValueError: no rows" in duo.find_element(_row(3)).text
    assert duo.find_element(_row(2)).get_attribute("data-active") == "true"
    assert "anomaly_rate" in duo.find_element(_row(1)).text
    assert "0.0123" in duo.find_element(_row(1)).text
    assert "1,200" in duo.find_element(_row(1)).text
    # only the good, inactive version offers a roll back
    assert len(duo.find_elements(".admin-models-rollback")) == 1
    duo.driver.save_screenshot("/tmp/admin_models.png")

    duo.find_element(f"{_row(1)} .admin-models-rollback").click()
    duo.wait_for_contains_text(f"#{AdminModels.CONFIRM_TEXT}", "instead of version 2", timeout=10)
    duo.find_element(f"#{AdminModels.CONFIRM_OK}").click()
    duo.wait_for_contains_text(
        f"#{AdminModels.MESSAGE}", "Version 1 of transactions_iforest is now the active one"
    )
    duo.wait_for_element(f'{_row(1)}[data-active="true"]', timeout=10)
    assert duo.find_element(_row(2)).get_attribute("data-active") == "false"
    assert registry.active_version_id(engine, MODEL_NAME) == first.id
    duo.driver.save_screenshot("/tmp/admin_models_rolled_back.png")
    assert duo.get_logs() == []


@pytest.mark.parametrize(
    ("username", "password"), [("viewer", VIEWER_PASSWORD), ("analyst", ANALYST_PASSWORD)]
)
def test_viewers_and_analysts_cannot_open_the_models_page(demo_app, start_app, username, password):
    duo = start_app(demo_app)
    login(duo, username, password, next_path="/")
    path = "/admin/models"
    duo.driver.get(f"{duo.server_url}{path}")
    duo.wait_for_contains_text("body", "Your role does not give access to this page.", 15)
    assert not duo.driver.find_elements(By.CSS_SELECTOR, f"#{AdminModels.CONTENT}")
    logs = duo.get_logs()
    assert all(
        entry["source"] == "network"
        and f"{path} - " in entry["message"]
        and "403" in entry["message"]
        for entry in logs
    ), logs


def test_retrain_now_trains_a_new_version_in_the_background(models_app, start_app):
    app, engine, _first = models_app
    duo = start_app(app)
    login(duo, next_path="/admin/models")
    duo.wait_for_element(_row(3), timeout=15)
    duo.find_element(".admin-models-retrain").click()
    duo.wait_for_contains_text(f"#{AdminModels.MESSAGE}", "Started model_training", timeout=10)
    # the page refreshes itself while the run is going and shows the new version when it ends
    duo.wait_for_element(_row(4), timeout=180)
    duo.wait_for_contains_text(".admin-models-run-status", "succeeded", timeout=20)
    newest = registry.list_versions(engine, MODEL_NAME)[0]
    assert (newest.version, newest.trained_by) == (4, "job")
    assert str(newest.status) in duo.find_element(_row(4)).text
    duo.driver.save_screenshot("/tmp/admin_models_retrained.png")
    assert duo.get_logs() == []
