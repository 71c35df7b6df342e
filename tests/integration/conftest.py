# autouse fixtures: a private copy of process-global state for every test here
from tests.isolation import isolated_breaker_registry, isolated_import_executor  # noqa: F401
