"""The cached data-access layer: the only read API the UI uses."""
