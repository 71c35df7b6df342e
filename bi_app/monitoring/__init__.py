"""Operations monitoring: health checks, request/callback metrics, resource samples, log capture.

:func:`init_app` wires the metrics middleware and the ``/api/health`` and ``/metrics`` routes
into an app; the periodic work is done by jobs (``bi_app.jobs``) calling
``health.run_health_checks``, ``resources.sample_resources``, ``metrics.rollup_minute`` and
``metrics.purge_old``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # services never import dash at run time
    import dash


def init_app(app: dash.Dash, settings: Any) -> None:
    """Time every request and callback, and serve ``/api/health`` and ``/metrics``.

    ``BI_HEALTH_SERVICES`` and ``BI_METRICS_TOKEN`` were validated with the other settings
    (:class:`bi_app.config.Settings`), so a bad value has already stopped start-up.
    """
    from bi_app.monitoring import middleware, views

    if "bi_api_health" in app.server.view_functions:
        return  # already wired to this server
    middleware.install(app.server, callbacks=lambda: app.callback_map)
    views.register(app.server, settings)
