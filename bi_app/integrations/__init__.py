"""Admin → Integrations: monitored HTTP services (:mod:`~bi_app.integrations.services`) and
external channel sources (:mod:`~bi_app.integrations.channels`).

Validation reuses the checks that already guard these settings (the ``BI_HEALTH_SERVICES``
validator in :mod:`bi_app.monitoring.services`, the :class:`HttpJsonSource` constructor), run
one field at a time against a known-good baseline so a form can mark every bad field at once.

Secrets never leave this package: a monitored service names an environment variable (only
whether it is set is reported), and a channel's auth header value is write-only — stored as
:func:`bi_app.channels.config.save_config` stores it, shown masked, never audited.

What a change invalidates: services — this process's last health report (the next health run
reads the table again); channels — nothing explicit, because the channel report's cache key
includes every source configuration's fingerprint, so a changed source misses the cache in
every worker at once.
"""

from __future__ import annotations

from bi_app.integrations._common import IntegrationError, NotFound

__all__ = ["IntegrationError", "NotFound"]
