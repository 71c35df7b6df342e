from tests.isolation import isolated_breaker_registry  # noqa: F401 - autouse fixture
