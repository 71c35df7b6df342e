"""Fixtures shared by the integration tests of the data layer and its cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bi_app.extensions import db
from tests.conftest import migrate
from tests.integration.test_data_layer import load_dataset


@pytest.fixture
def dataset_url(tmp_path) -> Iterator[str]:
    """The hand-computed sales data set in a fresh SQLite file, bound as the app's database."""
    url = f"sqlite:///{tmp_path / 'cache.sqlite'}"
    migrate(url)
    db.init(url)
    load_dataset(db.require_engine())
    yield url
    db.engine.dispose()
