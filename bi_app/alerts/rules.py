"""Pure alert logic: rule validation, conditions, backtests, fingerprints, silence matching,
routing and retry backoff. No I/O here (like redash's ``should_notify()``): the evaluator,
the lifecycle and the dispatcher call these and do the reading and writing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bi_app.db.alert_models import CHANNEL_KINDS, RULE_KINDS, SEVERITIES
from bi_app.i18n import N_, _

OPERATORS = (">", ">=", "<", "<=")
DIRECTIONS = ("below", "above", "both")
DAYS = ("yesterday", "today")
SEVERITY_ORDER = {name: rank for rank, name in enumerate(SEVERITIES)}
SEVERITY_LABELS = {
    "info": N_("info"),
    "warning": N_("warning"),
    "critical": N_("critical"),
    "emergency": N_("emergency"),
}
KIND_LABELS = {
    "threshold": N_("threshold"),
    "health": N_("service health"),
    "business": N_("business threshold"),
    "deviation": N_("deviation from the seasonal baseline"),
}
STATE_LABELS = {
    "pending": N_("pending"),
    "firing": N_("firing"),
    "acknowledged": N_("acknowledged"),
    "resolved": N_("resolved"),
    "ignored": N_("ignored"),
}
# Without targets a rule's alerts go to every enabled channel that lists the severity; the
# channel form suggests these (critical and emergency reach the immediate channels too).
DEFAULT_ROUTES: dict[str, tuple[str, ...]] = {
    "info": (),
    "warning": ("email", "slack"),
    "critical": CHANNEL_KINDS,
    "emergency": CHANNEL_KINDS,
}


def default_severities(kind: str) -> list[str]:
    """The severities a new channel of ``kind`` takes unless its admin chooses: e-mail and Slack
    get warnings and up, the immediate channels (SMS, webhook) critical and emergency only."""
    return [s for s in SEVERITIES if kind in DEFAULT_ROUTES.get(s, ())]


MAX_LABELS = 20
MAX_FOR_SECONDS = 7 * 86400
MAX_COOLDOWN_SECONDS = 30 * 86400
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*(=~|!~|!=|=)\s*(.*?)\s*$")
MATCH_OPERATORS = ("=", "!=", "=~", "!~")


class RuleInvalid(ValueError):
    """A rule that cannot be saved; ``field`` names the form field, the message is shown."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


class MatchersInvalid(ValueError):
    """Silence matchers that cannot be read; the message is shown."""


@dataclass(frozen=True)
class RuleSpec:
    name: str
    kind: str
    metric: str
    params: dict[str, Any]
    severity: str = "warning"
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    for_seconds: int = 0
    cooldown_seconds: int = 900
    targets: tuple[str, ...] = ()
    escalation_minutes: int | None = None
    escalation_targets: tuple[str, ...] = ()
    response_job: str | None = None
    recommended_action: str = ""
    enabled: bool = True
    id: int | None = None

    @property
    def key(self) -> str:
        """What the fingerprints of this rule's alerts start from: stable across renames."""
        return f"rule:{self.id}" if self.id is not None else f"rule:{self.name}"


@dataclass(frozen=True)
class Point:
    """A value a rule sees at a moment, with the expected band of a deviation rule."""

    at: dt.datetime
    value: float | None
    low: float | None = None
    high: float | None = None


# --- validation --------------------------------------------------------------------------------


def parse_labels(raw: object) -> dict[str, str]:
    """``{"team": "ops"}`` or ``"team=ops, area=shop"`` into a dict of label names to values."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        items = [(str(k).strip(), str(v).strip()) for k, v in raw.items()]
    elif isinstance(raw, str):
        items = []
        for part in raw.split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            if not sep:
                raise RuleInvalid(
                    "labels",
                    _(
                        "Write labels as name=value, separated by commas: %(part)s",
                        part=part.strip(),
                    ),
                )
            items.append((name.strip(), value.strip()))
    else:
        raise RuleInvalid("labels", _("Write labels as name=value, separated by commas."))
    if len(items) > MAX_LABELS:
        raise RuleInvalid("labels", _("At most %(count)s labels.", count=MAX_LABELS))
    labels: dict[str, str] = {}
    for name, value in items:
        if not _LABEL_NAME.match(name):
            raise RuleInvalid(
                "labels",
                _("The label name %(name)s is not valid: use letters, digits and _.", name=name),
            )
        if len(value) > 200:
            raise RuleInvalid("labels", _("The value of label %(name)s is too long.", name=name))
        labels[name] = value
    return labels


def format_labels(labels: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _number(raw: Mapping, key: str, field_name: str, label: str) -> float:
    value = raw.get(key)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RuleInvalid(field_name, _("%(field)s must be a number.", field=label)) from None
    if not math.isfinite(number):
        raise RuleInvalid(field_name, _("%(field)s must be a number.", field=label))
    return number


def _whole(
    value: object, field_name: str, label: str, low: int, high: int, default: int | None = None
) -> int:
    if value is None or value == "":
        if default is not None:
            return default
        raise RuleInvalid(field_name, _("%(field)s is required.", field=label))
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise RuleInvalid(
            field_name,
            _(
                "%(field)s must be a whole number from %(low)s to %(high)s.",
                field=label,
                low=low,
                high=high,
            ),
        )
    return int(number)


def _names(raw: object) -> tuple[str, ...]:
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, Iterable):
        return ()
    return tuple(sorted({str(n).strip() for n in raw if str(n).strip()}))


def validate_params(kind: str, metric: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The kind's own settings, checked and normalized (numbers as numbers, defaults filled)."""
    if kind in ("threshold", "business"):
        operator = raw.get("operator")
        if operator not in OPERATORS:
            raise RuleInvalid(
                "operator", _("Choose a comparison: %(ops)s.", ops=" ".join(OPERATORS))
            )
        params: dict[str, Any] = {
            "operator": operator,
            "threshold": _number(raw, "threshold", "threshold", _("The value")),
        }
        if kind == "threshold" and raw.get("window_minutes") not in (None, ""):
            params["window_minutes"] = _whole(
                raw.get("window_minutes"), "window_minutes", _("The window"), 1, 1440
            )
        if kind == "business" and raw.get("day") not in (None, ""):
            if raw.get("day") not in DAYS:
                raise RuleInvalid("day", _("Choose yesterday or today."))
            params["day"] = raw["day"]
        return params
    if kind == "health":
        params = {"runs": _whole(raw.get("runs"), "runs", _("The number of runs"), 1, 100, 2)}
        if raw.get("status") not in (None, "", "unhealthy", "degraded"):
            raise RuleInvalid("status", _("Choose unhealthy or degraded."))
        if raw.get("status") == "degraded":
            params["status"] = "degraded"
        return params
    if kind == "deviation":
        k = _number({"k": raw.get("k", 3)}, "k", "k", _("The number of standard deviations"))
        if not 0.5 <= k <= 10:
            raise RuleInvalid("k", _("The number of standard deviations must be from 0.5 to 10."))
        direction = raw.get("direction") or "both"
        if direction not in DIRECTIONS:
            raise RuleInvalid("direction", _("Choose below, above or both."))
        params = {
            "k": k,
            "weeks": _whole(raw.get("weeks"), "weeks", _("The weeks of history"), 3, 52, 8),
            "direction": direction,
        }
        if raw.get("day") not in (None, ""):
            if raw.get("day") not in DAYS:
                raise RuleInvalid("day", _("Choose yesterday or today."))
            params["day"] = raw["day"]
        return params
    raise RuleInvalid("kind", _("Choose a rule type."))


def validate_rule(
    raw: Mapping[str, Any],
    *,
    metrics: Mapping[str, Any] | None = None,
    health_checks: Iterable[str] = (),
    channels: Iterable[str] | None = None,
    jobs: Iterable[str] | None = None,
) -> RuleSpec:
    """A :class:`RuleSpec` from form or API input, or :class:`RuleInvalid` naming the field.

    ``metrics`` maps metric names to objects with a ``kinds`` tuple (see
    :data:`bi_app.alerts.sources.METRICS`); ``channels`` and ``jobs`` are the names targets and
    the automatic response may use (None: not checked).
    """
    name = str(raw.get("name") or "").strip()
    if not name:
        raise RuleInvalid("name", _("Give the rule a name."))
    if len(name) > 100:
        raise RuleInvalid("name", _("The name is too long (at most 100 characters)."))
    kind = raw.get("kind")
    if kind not in RULE_KINDS:
        raise RuleInvalid("kind", _("Choose a rule type."))
    metric = str(raw.get("metric") or "").strip()
    if kind == "health":
        checks = set(health_checks)
        if not metric or (checks and metric not in checks and not metric.startswith("service:")):
            raise RuleInvalid("metric", _("Choose the health check to watch."))
    elif metrics is not None:
        info = metrics.get(metric)
        if info is None or kind not in getattr(info, "kinds", ()):
            raise RuleInvalid("metric", _("Choose a metric this rule type can watch."))
    elif not metric:
        raise RuleInvalid("metric", _("Choose a metric this rule type can watch."))
    params_raw = raw.get("params") or {}
    if not isinstance(params_raw, Mapping):
        raise RuleInvalid("params", _("Choose a rule type."))
    params = validate_params(kind, metric, params_raw)
    severity = raw.get("severity") or "warning"
    if severity not in SEVERITIES:
        raise RuleInvalid("severity", _("Choose a severity."))
    for_seconds = _whole(
        raw.get("for_seconds"), "for_seconds", _("For how long"), 0, MAX_FOR_SECONDS, 0
    )
    cooldown = _whole(
        raw.get("cooldown_seconds"),
        "cooldown_seconds",
        _("The cooldown"),
        0,
        MAX_COOLDOWN_SECONDS,
        900,
    )
    escalation = raw.get("escalation_minutes")
    escalation_minutes = (
        None
        if escalation in (None, "")
        else _whole(escalation, "escalation_minutes", _("Escalate after"), 1, 10080)
    )
    targets = _names(raw.get("targets"))
    escalation_targets = _names(raw.get("escalation_targets"))
    if escalation_minutes is not None and not escalation_targets:
        raise RuleInvalid(
            "escalation_targets", _("Choose where an escalation goes, or leave it off.")
        )
    if channels is not None:
        known = set(channels)
        unknown = sorted(set(targets + escalation_targets) - known)
        if unknown:
            raise RuleInvalid("targets", _("No such channel: %(names)s.", names=", ".join(unknown)))
    response_job = str(raw.get("response_job") or "").strip() or None
    if response_job is not None and jobs is not None and response_job not in set(jobs):
        raise RuleInvalid("response_job", _("No such job: %(name)s.", name=response_job))
    description = str(raw.get("description") or "").strip()
    action = str(raw.get("recommended_action") or "").strip()
    if len(description) > 2000 or len(action) > 2000:
        raise RuleInvalid("description", _("The text is too long (at most 2,000 characters)."))
    rule_id = raw.get("id")
    return RuleSpec(
        id=int(rule_id) if rule_id not in (None, "") else None,
        name=name,
        kind=kind,
        metric=metric,
        params=params,
        severity=severity,
        description=description,
        labels=parse_labels(raw.get("labels")),
        for_seconds=for_seconds,
        cooldown_seconds=cooldown,
        targets=targets,
        escalation_minutes=escalation_minutes,
        escalation_targets=escalation_targets,
        response_job=response_job,
        recommended_action=action,
        enabled=bool(raw.get("enabled", True)),
    )


def spec_from_row(row: Any) -> RuleSpec:
    """A stored rule (an ``AlertRule`` or a mapping of its columns) as a :class:`RuleSpec`,
    without validation: stored rules were validated when saved."""
    get = row.get if isinstance(row, Mapping) else lambda k, d=None: getattr(row, k, d)
    return RuleSpec(
        id=get("id"),
        name=get("name"),
        kind=get("kind"),
        metric=get("metric"),
        params=dict(get("params") or {}),
        severity=get("severity"),
        description=get("description") or "",
        labels={str(k): str(v) for k, v in (get("labels") or {}).items()},
        for_seconds=int(get("for_seconds") or 0),
        cooldown_seconds=int(get("cooldown_seconds") or 0),
        targets=tuple(get("targets") or ()),
        escalation_minutes=get("escalation_minutes"),
        escalation_targets=tuple(get("escalation_targets") or ()),
        response_job=get("response_job"),
        recommended_action=get("recommended_action") or "",
        enabled=bool(get("enabled", True)),
    )


# --- conditions --------------------------------------------------------------------------------


def compare(value: float, operator: str, threshold: float) -> bool:
    if operator == ">":
        return value > threshold
    if operator == ">=":
        return value >= threshold
    if operator == "<":
        return value < threshold
    if operator == "<=":
        return value <= threshold
    raise ValueError(f"unknown operator {operator!r}")


def condition_holds(
    spec: RuleSpec, value: float | None, low: float | None = None, high: float | None = None
) -> bool:
    """Whether a rule's condition is true for one value. No value (no data in the window) and a
    deviation without a band (too little history) are "cannot tell", which does not fire."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if spec.kind == "health":
        return value >= int(spec.params.get("runs", 1))
    if spec.kind == "deviation":
        if low is None or high is None:
            return False
        direction = spec.params.get("direction", "both")
        below, above = value < low, value > high
        return below if direction == "below" else above if direction == "above" else below or above
    return compare(value, spec.params["operator"], float(spec.params["threshold"]))


def threshold_of(spec: RuleSpec) -> float | None:
    """The line to draw on the metric's chart (None for deviations: they draw their band)."""
    if spec.kind in ("threshold", "business"):
        return float(spec.params["threshold"])
    if spec.kind == "health":
        return float(spec.params.get("runs", 1))
    return None


def backtest(spec: RuleSpec, points: Sequence[Point]) -> list[dt.datetime]:
    """The moments the rule would have fired over ``points`` (sorted by time), honouring the
    for-duration (the condition must hold from its first true point until ``for_seconds`` later)
    and the cooldown (no new firing within ``cooldown_seconds`` of the last resolution)."""
    fired: list[dt.datetime] = []
    since: dt.datetime | None = None  # the condition has held since
    firing = False
    resolved_at: dt.datetime | None = None
    for point in sorted(points, key=lambda p: p.at):
        holds = condition_holds(spec, point.value, point.low, point.high)
        if not holds:
            if firing:
                resolved_at = point.at
            since, firing = None, False
            continue
        if firing:
            continue
        since = since or point.at
        if (point.at - since).total_seconds() < spec.for_seconds:
            continue
        if resolved_at is not None and (
            (point.at - resolved_at).total_seconds() < spec.cooldown_seconds
        ):
            continue
        fired.append(point.at)
        firing = True
    return fired


# --- identity, silences, routing, retries -----------------------------------------------------


def fingerprint(key: str, labels: Mapping[str, Any]) -> str:
    """A stable identity for "this rule, this series": the same rule and labels always give the
    same fingerprint, so repeated evaluations (in any worker) find the same open alert."""
    blob = json.dumps([key, {str(k): str(v) for k, v in labels.items()}], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:40]


def validate_matchers(raw: object) -> list[dict[str, str]]:
    """``"team=ops, severity=~critical|emergency"`` (or a list of dicts) into matchers.

    Operators as Alertmanager's: ``=`` equal, ``!=`` not equal, ``=~`` regex match, ``!~``
    regex non-match (the whole value must match, as in Alertmanager).
    """
    if isinstance(raw, str):
        parts = [p for p in raw.split(",") if p.strip()]
        items = []
        for part in parts:
            match = _MATCHER.match(part)
            if match is None:
                raise MatchersInvalid(
                    _(
                        "Write matchers as name=value, name!=value, name=~regex or name!~regex: "
                        "%(part)s",
                        part=part.strip(),
                    )
                )
            items.append({"name": match[1], "op": match[2], "value": match[3]})
    elif isinstance(raw, Iterable) and not isinstance(raw, (bytes, Mapping)):
        items = [dict(m) for m in raw if isinstance(m, Mapping)]
    else:
        items = []
    if not items:
        raise MatchersInvalid(_("Give at least one matcher, e.g. team=ops."))
    if len(items) > MAX_LABELS:
        raise MatchersInvalid(_("At most %(count)s matchers.", count=MAX_LABELS))
    checked = []
    for m in items:
        name, op, value = str(m.get("name", "")), m.get("op", "="), str(m.get("value", ""))
        if not _LABEL_NAME.match(name) or op not in MATCH_OPERATORS:
            raise MatchersInvalid(_("The matcher %(name)s is not valid.", name=name or "?"))
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error:
                raise MatchersInvalid(
                    _("The pattern of %(name)s is not a valid regular expression.", name=name)
                ) from None
        checked.append({"name": name, "op": op, "value": value})
    return checked


def format_matchers(matchers: Iterable[Mapping[str, str]]) -> str:
    return ", ".join(f"{m['name']}{m['op']}{m['value']}" for m in matchers)


def silence_matches(matchers: Iterable[Mapping[str, str]], labels: Mapping[str, Any]) -> bool:
    """Whether every matcher holds for the labels (a missing label reads as "")."""
    for m in matchers:
        actual = str(labels.get(m["name"], ""))
        op, value = m["op"], m["value"]
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
        if op in ("=~", "!~"):
            hit = re.fullmatch(value, actual) is not None
            if hit != (op == "=~"):
                return False
    return True


def alert_labels(spec: RuleSpec, series_labels: Mapping[str, Any]) -> dict[str, str]:
    """What an alert of ``spec`` is labelled with: the rule's labels, the series' labels, and
    ``alertname`` / ``severity`` (so silences can match them, as in Alertmanager)."""
    labels = {str(k): str(v) for k, v in spec.labels.items()}
    labels.update({str(k): str(v) for k, v in series_labels.items()})
    labels["alertname"] = spec.name
    labels["severity"] = spec.severity
    return labels


@dataclass(frozen=True)
class ChannelRoute:
    name: str
    kind: str
    severities: tuple[str, ...]
    enabled: bool = True


def routes(severity: str, targets: Sequence[str], channels: Iterable[ChannelRoute]) -> list[str]:
    """The channels an alert of ``severity`` goes to: the rule's targets when it names any,
    else every enabled channel whose severities include it. ``info`` stays in the app unless a
    rule names targets."""
    enabled = [c for c in channels if c.enabled]
    if targets:
        wanted = set(targets)
        return sorted(c.name for c in enabled if c.name in wanted)
    if severity == "info":
        return []
    return sorted(c.name for c in enabled if severity in c.severities)


def backoff_seconds(
    attempt: int, base: float = 5.0, cap: float = 600.0, rand: Callable[[], float] = random.random
) -> float:
    """Seconds before retry ``attempt`` (1 = the first retry): exponential, capped, with full
    jitter (AWS's "full jitter": uniform in [0, min(cap, base·2^(attempt-1))]), never below one
    second so a flapping receiver is not hammered."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return max(1.0, rand() * ceiling)
