"""The model registry on SQLite and PostgreSQL: save and load back (fresh process cache, same
scores), a worse or failed training keeps the active version, rollback, audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sqlalchemy import Engine, select

from bi_app.db.engine import make_engine
from bi_app.db.model_models import ModelVersion
from bi_app.db.models import AuditLog
from bi_app.models import registry
from tests.conftest import migrate

pytestmark = pytest.mark.integration
NAME = "test_forest"
DATA = np.random.default_rng(7).normal(size=(300, 4))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request) -> Iterator[Engine]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    migrate(url)
    eng = make_engine(url)
    registry.clear_cache()
    try:
        yield eng
    finally:
        registry.clear_cache()
        eng.dispose()


def _forest(seed: int) -> IsolationForest:
    return IsolationForest(n_estimators=20, random_state=seed).fit(DATA)


def _training(**kw) -> registry.Training:
    return registry.Training(
        data_from=dt.datetime(2026, 1, 1),
        data_to=dt.datetime(2026, 3, 31),
        features=["a", "b", "c", "d"],
        params={"n_estimators": 20},
        trained_by="tests",
        quality_metric="separation",
        **kw,
    )


def _actions(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (r.action, r.target)
            for r in conn.execute(select(AuditLog).order_by(AuditLog.id))
            if r.action.startswith("model.")
        ]


def test_a_saved_model_loads_back_in_a_fresh_process_cache_with_the_same_scores(engine):
    forest = _forest(1)
    info = registry.save(engine, NAME, forest, "skops", _training(), {"separation": 3.0})
    assert (info.version, info.status, info.active) == (1, "good", True)

    registry.clear_cache()  # as a worker that never saw the training
    model, loaded = registry.load_active(engine, NAME)
    assert np.array_equal(model.score_samples(DATA), forest.score_samples(DATA))
    assert loaded.features == ["a", "b", "c", "d"]
    assert loaded.params == {"n_estimators": 20}
    assert loaded.metrics == {"separation": 3.0}
    assert (loaded.data_from, loaded.data_to) == (dt.datetime(2026, 1, 1), dt.datetime(2026, 3, 31))
    assert loaded.format == "skops" and loaded.trained_by == "tests"
    assert registry.load_active(engine, NAME)[0] is model  # cached by version id

    # a new version trained elsewhere is picked up on the next read
    newer = _forest(2)
    registry.save(engine, NAME, newer, "skops", _training(), {"separation": 3.1})
    model2, info2 = registry.load_active(engine, NAME)
    assert info2.version == 2
    assert np.array_equal(model2.score_samples(DATA), newer.score_samples(DATA))
    assert registry.load_active(engine, "never_trained") is None


def test_a_worse_or_failed_training_keeps_the_previous_version_active(engine):
    registry.save(engine, NAME, _forest(1), "skops", _training(), {"separation": 5.0})
    worse = registry.save(engine, NAME, _forest(2), "skops", _training(), {"separation": 2.0})
    assert (worse.version, worse.status, worse.active) == (2, "rejected", False)
    failed = registry.record_failure(engine, NAME, "skops", _training(), "ValueError: no data")
    assert (failed.version, failed.status, failed.active) == (3, "failed", False)
    # a little worse (within the tolerance) still activates: the data moves
    close = registry.save(engine, NAME, _forest(3), "skops", _training(), {"separation": 4.5})
    assert (close.version, close.status, close.active) == (4, "good", True)

    versions = registry.list_versions(engine, NAME)
    assert [(v.version, v.status, v.active) for v in versions] == [
        (4, "good", True),
        (3, "failed", False),
        (2, "rejected", False),
        (1, "good", False),
    ]
    assert versions[1].error == "ValueError: no data"
    with engine.connect() as conn:
        assert conn.scalar(select(ModelVersion.artifact).where(ModelVersion.version == 3)) is None
    assert _actions(engine) == [
        ("model.trained", f"{NAME} v1"),
        ("model.rejected", f"{NAME} v2"),
        ("model.failed", f"{NAME} v3"),
        ("model.trained", f"{NAME} v4"),
    ]
    assert registry.training_problems(engine, dt.datetime(2000, 1, 1)) == 2
    assert registry.training_problems(engine, dt.datetime(2000, 1, 1), name="other") == 0


def test_rollback_activates_an_earlier_good_version_and_is_audited(engine):
    first = _forest(1)
    registry.save(engine, NAME, first, "skops", _training(), {"separation": 3.0})
    registry.save(engine, NAME, _forest(2), "skops", _training(), {"separation": 3.0})
    registry.save(engine, NAME, _forest(3), "skops", _training(), {"separation": 0.1})
    assert registry.load_active(engine, NAME)[1].version == 2

    info = registry.rollback(engine, NAME, 1, actor="cli")
    assert (info.version, info.active) == (1, True)
    model, active = registry.load_active(engine, NAME)
    assert active.version == 1
    assert np.array_equal(model.score_samples(DATA), first.score_samples(DATA))
    with engine.connect() as conn:
        assert conn.scalar(select(ModelVersion.version).where(ModelVersion.active.is_(True))) == 1
        row = conn.execute(select(AuditLog).where(AuditLog.action == "model.rollback")).one()
    assert (row.target, row.username, row.detail["from_version"]) == (f"{NAME} v1", "cli", 2)

    with pytest.raises(registry.ModelError):
        registry.rollback(engine, NAME, 3, actor="cli")  # rejected: never activated
    with pytest.raises(registry.ModelError):
        registry.rollback(engine, NAME, 9, actor="cli")
    assert registry.load_active(engine, NAME)[1].version == 1


def test_update_metrics_merges_into_the_stored_version(engine):
    info = registry.save(engine, NAME, _forest(1), "skops", _training(), {"separation": 3.0})
    registry.load_active(engine, NAME)
    registry.update_metrics(engine, info.id, {"evaluation": {"f1": 0.5}})
    assert registry.load_active(engine, NAME)[1].metrics == {
        "separation": 3.0,
        "evaluation": {"f1": 0.5},
    }
