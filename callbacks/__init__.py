"""Callbacks, one module per page, attached to an app by ``_registry.register_all``."""
