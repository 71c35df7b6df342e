"""The background jobs as data: :class:`JobSpec` and the :data:`JOBS` every scheduler runs.

A job's function is a ``"package.module:function"`` string resolved at run time (see
:func:`bi_app.jobs.runner.resolve`), so this list imports none of the code it schedules.

Schedules are deliberate about lateness: interval triggers are aligned to a fixed epoch (so a new
leader keeps the same tick times), and ``misfire_grace_time`` is one period, so a late run still
happens (its ``late_ms`` is recorded) instead of being silently dropped. Cron schedules read
their hours in the business time zone (``BI_TIMEZONE``): "30 2 * * *" is 02:30 where the
business is, through daylight saving time changes; intervals are time-zone free.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from bi_app.db.models import utcnow
from bi_app.db.periods import business_timezone, local_date
from bi_app.i18n import N_, _

UTC = dt.UTC
ALIGN_EPOCH = dt.datetime(2000, 1, 1, tzinfo=UTC)
CRON_GRACE_SECONDS = 300
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FUNC_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@dataclass(frozen=True)
class JobSpec:
    """One background job: ``func`` is ``"package.module:function"``, resolved at run time.

    Give exactly one of ``seconds`` (interval) or ``cron`` (five crontab fields, in the business
    time zone). The function
    is called inside an app context with whichever of ``app``, ``settings``, ``engine`` and
    ``scheduled_for`` (UTC datetime, None for a manual run) its signature names.

    ``per_process`` jobs handle state private to each process (e.g. flushing its in-memory
    metrics): every scheduler process runs them, leader or not, each under its own lock.
    """

    name: str
    func: str
    seconds: int | None = None
    cron: str | None = None
    timeout: float = 60.0
    description: str = ""
    per_process: bool = False

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name or ""):
            raise ValueError(
                f"job name {self.name!r}: use 1-64 lowercase letters, digits, underscores"
            )
        if not _FUNC_RE.match(self.func or ""):
            raise ValueError(
                f"job {self.name}: func {self.func!r} must look like 'package.module:function'"
            )
        if (self.seconds is None) == (self.cron is None):
            raise ValueError(f"job {self.name}: give exactly one of seconds= or cron=")
        if self.seconds is not None and (not isinstance(self.seconds, int) or self.seconds < 1):
            raise ValueError(
                f"job {self.name}: seconds must be a whole number >= 1, got {self.seconds!r}"
            )
        if self.cron is not None:
            try:
                CronTrigger.from_crontab(self.cron, timezone=UTC)
            except ValueError as exc:
                raise ValueError(f"job {self.name}: invalid cron {self.cron!r}: {exc}") from None
        if not self.timeout > 0:
            raise ValueError(f"job {self.name}: timeout must be positive, got {self.timeout!r}")

    def trigger(self, tz: str | None = None) -> BaseTrigger:
        """The APScheduler trigger; a cron's fields are read in ``tz`` (default: the business
        time zone, :func:`~bi_app.db.periods.business_timezone`)."""
        if self.seconds is not None:
            return IntervalTrigger(seconds=self.seconds, start_date=ALIGN_EPOCH, timezone=UTC)
        return CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(tz or business_timezone()))

    @property
    def trigger_text(self) -> str:
        """The schedule as people read it ("every 15 min"), in the current locale."""
        if self.cron is not None:
            return _("cron %(cron)s (%(timezone)s)", cron=self.cron, timezone=business_timezone())
        seconds = self.seconds or 0
        if seconds % 3600 == 0:
            if seconds == 3600:
                return _("every hour")
            return _("every %(hours)s h", hours=seconds // 3600)
        if seconds % 60 == 0:
            if seconds == 60:
                return _("every minute")
            return _("every %(minutes)s min", minutes=seconds // 60)
        return _("every %(seconds)s s", seconds=seconds)

    @property
    def description_text(self) -> str:
        """The description (marked with ``N_``) in the current locale."""
        return _(self.description) if self.description else ""

    @property
    def misfire_grace_time(self) -> int:
        """One period: a run delayed by less still happens (late); longer delays coalesce."""
        return self.seconds if self.seconds is not None else CRON_GRACE_SECONDS


def refresh_recent_rollups(engine: Engine) -> dict:
    """Rebuild the sales roll-ups for the last three local days (today included, in the business
    time zone); all of them when they were built in another zone (``BI_TIMEZONE`` changed and
    nobody ran ``bi-app rollups rebuild``): three days cut in a new zone next to older days cut
    in the previous one would count the orders near midnight twice."""
    from bi_app.db.business_days import needs_rebuild, rebuild_for_timezone
    from bi_app.db.rollups import refresh_rollups

    tz = business_timezone()
    if needs_rebuild(engine, tz):
        from bi_app.data.cache import invalidate

        summary = rebuild_for_timezone(engine, tz)
        invalidate()  # every figure moved: cached ones were cut in the old zone
        return summary
    end = local_date(utcnow(), tz)
    return refresh_rollups(engine, end - dt.timedelta(days=2), end, tz=tz)


JOBS: list[JobSpec] = [
    JobSpec(
        "refresh_rollups",
        "bi_app.jobs.definitions:refresh_recent_rollups",
        seconds=900,
        timeout=600,
        description=N_("Rebuild the daily sales roll-ups for the last 3 days"),
    ),
    JobSpec(
        "health_checks",
        "bi_app.monitoring.health:run_health_checks",
        seconds=30,
        timeout=25,
        description=N_("Check the database, cache and monitored services"),
    ),
    JobSpec(
        "resource_sample",
        "bi_app.monitoring.resources:sample_resources",
        seconds=15,
        timeout=10,
        description=N_("Sample CPU, memory and disk of this host"),
    ),
    JobSpec(
        "metrics_rollup",
        "bi_app.monitoring.metrics:rollup_minute",
        seconds=60,
        timeout=50,
        per_process=True,
        description=N_("Flush each worker's request and callback metrics per minute"),
    ),
    JobSpec(
        "retention",
        "bi_app.monitoring.metrics:purge_old",
        cron="7 * * * *",
        timeout=600,
        description=N_("Delete monitoring data past its retention period"),
    ),
    JobSpec(
        "log_retention",
        "bi_app.monitoring.logs:purge_logs",
        cron="17 * * * *",
        timeout=600,
        description=N_("Delete stored application logs older than 14 days"),
    ),
    JobSpec(
        "source_sync",
        "bi_app.importing.sync:run_configured_sync",
        seconds=900,
        timeout=1800,
        description=N_(
            "Import what changed in the source database (BI_SYNC_FILE; nothing if unset)"
        ),
    ),
    JobSpec(
        "alert_evaluation",
        "bi_app.alerts.evaluate:evaluate_rules",
        seconds=60,
        timeout=55,
        description=N_("Evaluate the alert rules; escalate unacknowledged alerts"),
    ),
    JobSpec(
        "alert_dispatch",
        "bi_app.alerts.dispatch:dispatch_pending",
        seconds=5,
        timeout=55,
        description=N_("Send the alert center's notifications from the outbox, with retries"),
    ),
    JobSpec(
        "customer_tags",
        "bi_app.customer_tags:recompute_tags",
        cron="30 2 * * *",
        timeout=1800,
        description=N_(
            "Recompute changed customers: stats, segments, segment paths, churn-risk tags"
        ),
    ),
    JobSpec(
        "model_training",
        "bi_app.models.transactions:training_job",
        cron="45 3 * * *",
        timeout=1800,
        description=N_(
            "Train the transaction anomaly detector on the last 90 days; a worse or failed "
            "training keeps the active model"
        ),
    ),
    JobSpec(
        "transaction_scoring",
        "bi_app.models.transactions:scoring_job",
        seconds=300,
        timeout=280,
        description=N_("Score new transactions for anomalies and flag large ones"),
    ),
    JobSpec(
        "capacity_sample",
        "bi_app.capacity:sample_job",
        seconds=300,
        timeout=60,
        description=N_("Sample the level of each consumable resource (transaction energy)"),
    ),
    JobSpec(
        "attendance_training",
        "bi_app.models.attendance:training_job",
        cron="55 3 * * *",
        timeout=600,
        description=N_(
            "Train the event attendance forecast on every completed event; a worse or failed "
            "training keeps the active model"
        ),
    ),
    JobSpec(
        "churn_training",
        "bi_app.models.churn:training_job",
        cron="0 4 * * *",
        timeout=1800,
        description=N_(
            "Train the customer churn classifier on a time-based hold-out and score every "
            "customer; a worse or failed training keeps the active model"
        ),
    ),
    JobSpec(
        "forecast_fit",
        "bi_app.forecasting:fit_all",
        cron="15 3 * * *",
        timeout=1800,
        description=N_(
            "Fit the Prophet forecasts of daily revenue, orders, new customers and event "
            "attendance (revenue and orders also per platform and category), backtest them "
            "against a seasonal-naive baseline and store them for the Forecasts page"
        ),
    ),
    JobSpec(
        "report_schedules",
        "bi_app.reports.schedules:run_due_schedules",
        seconds=60,
        timeout=1800,
        description=N_(
            "Build the scheduled reports whose time has come (each slot once) and put their "
            "e-mails, with the file attached, in the notification outbox"
        ),
    ),
]


# jobs whose interval is a setting: job name -> the Settings field holding its seconds
INTERVAL_SETTINGS = {
    "alert_evaluation": "alert_eval_seconds",
    "alert_dispatch": "alert_dispatch_seconds",
}


def jobs_for(settings: Any) -> list[JobSpec]:
    """:data:`JOBS` with the intervals the settings choose (``BI_ALERT_EVAL_SECONDS``, ...). A
    run longer than its interval is not a problem: the next slot is recorded as skipped."""
    specs = []
    for spec in JOBS:
        field_name = INTERVAL_SETTINGS.get(spec.name)
        seconds = getattr(settings, field_name, None) if field_name else None
        if seconds and seconds != spec.seconds:
            spec = replace(spec, seconds=seconds)
        specs.append(spec)
    return specs
