"""The model registry: trained models stored in the database, so every worker on every host
loads the same one.

A model is serialized without arbitrary code execution: scikit-learn objects with ``skops``
(loaded only when every type the file names is a skops default or in :data:`ALLOWED_TYPES`),
Prophet models with Prophet's own JSON. Never pickle.

Activation rule (one row per name has ``active`` true, held by a partial unique index):
a successful training becomes the active version unless the active one's quality metric is
better by more than :data:`REJECT_TOLERANCE` -- then it is stored as ``rejected``; a training
that raised is stored as ``failed`` (no artifact, its error kept). Either way the previous version
stays active and the event is audited (``model.rejected`` / ``model.failed``; see
:func:`training_problems` for an alert metric). :func:`rollback` re-activates an earlier ``good``
version explicitly; a later better training moves ``active`` on again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from bi_app.db.model_models import ModelVersion
from bi_app.db.models import utcnow
from bi_app.i18n import _

log = logging.getLogger(__name__)

# Types beyond skops' own defaults that a stored scikit-learn model may contain. Anything else in
# a stored file (a function, an unknown class) refuses to load.
ALLOWED_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._iforest.IsolationForest",
        "sklearn.tree._classes.ExtraTreeRegressor",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._data.RobustScaler",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.float64",
        "numpy.int64",
    }
)
REJECT_TOLERANCE = 0.2  # a new version may be up to 20 % worse (data moves) and still activate


class ModelError(Exception):
    """A registry operation that cannot be done; the message is safe to show."""


@dataclass(frozen=True)
class VersionInfo:
    """A stored version's metadata (everything but the artifact)."""

    id: int
    name: str
    version: int
    status: str
    active: bool
    trained_at: dt.datetime
    data_from: dt.datetime | None
    data_to: dt.datetime | None
    features: list[Any]
    params: dict[str, Any]
    metrics: dict[str, Any]
    format: str
    error: str | None
    trained_by: str | None

    @classmethod
    def of(cls, row: ModelVersion) -> VersionInfo:
        return cls(
            id=row.id,
            name=row.name,
            version=row.version,
            status=row.status,
            active=bool(row.active),
            trained_at=row.trained_at,
            data_from=row.data_from,
            data_to=row.data_to,
            features=list(row.features or []),
            params=dict(row.params or {}),
            metrics=dict(row.metrics or {}),
            format=row.format,
            error=row.error,
            trained_by=row.trained_by,
        )


@dataclass(frozen=True)
class Training:
    """What a training run saw and chose: stored next to the model."""

    data_from: dt.datetime | None = None
    data_to: dt.datetime | None = None
    features: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    trained_by: str = "job"
    # the metric in ``metrics`` that decides against the active version, and its direction
    quality_metric: str | None = None
    higher_is_better: bool = True


# --- serialization ----------------------------------------------------------------------------


def serialize(model: Any, fmt: str) -> bytes:
    if fmt == "skops":
        import skops.io as sio

        return sio.dumps(model)
    if fmt == "prophet-json":
        from prophet.serialize import model_to_json

        return model_to_json(model).encode()
    raise ModelError(_("Unknown model format %(format)s.", format=fmt))


def deserialize(data: bytes, fmt: str, allowed: Iterable[str] = ALLOWED_TYPES) -> Any:
    """The model in ``data``; a skops file naming a type outside ``allowed`` is refused."""
    if fmt == "skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(data=data)
        refused = sorted(set(untrusted) - set(allowed))
        if refused:
            raise ModelError(
                _(
                    "The stored model contains types that are not allowed: %(types)s.",
                    types=", ".join(refused),
                )
            )
        return sio.loads(data, trusted=untrusted)
    if fmt == "prophet-json":
        from prophet.serialize import model_from_json

        return model_from_json(data.decode())
    raise ModelError(_("Unknown model format %(format)s.", format=fmt))


# --- saving and activation --------------------------------------------------------------------


def _next_version(session: Session, name: str) -> int:
    latest = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.name == name))
    return int(latest or 0) + 1


def _active_row(session: Session, name: str) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(ModelVersion.name == name, ModelVersion.active.is_(True))
    )


def _worse(new: dict, old: dict, training: Training) -> bool:
    key = training.quality_metric
    if not key or key not in new or key not in (old or {}):
        return False
    new_value, old_value = float(new[key]), float(old[key])
    if training.higher_is_better:
        return new_value < old_value - abs(old_value) * REJECT_TOLERANCE
    return new_value > old_value + abs(old_value) * REJECT_TOLERANCE


def _audit(session: Session, action: str, row: ModelVersion, actor: str, **detail: Any) -> None:
    from bi_app.auth.users import audit

    audit(
        session,
        action,
        target=f"{row.name} v{row.version}",
        detail={"model_version_id": row.id, **detail},
        actor=actor,
    )


def save(
    engine: Engine,
    name: str,
    model: Any,
    fmt: str,
    training: Training,
    metrics: dict[str, Any],
) -> VersionInfo:
    """Store a trained model as the next version of ``name`` and activate it unless it is worse
    than the active one (then it is kept as ``rejected``)."""
    artifact = serialize(model, fmt)
    deserialize(artifact, fmt)  # never store what could not be loaded back
    with Session(engine) as session, session.begin():
        active = _active_row(session, name)
        rejected = active is not None and _worse(metrics, active.metrics, training)
        row = ModelVersion(
            name=name,
            version=_next_version(session, name),
            status="rejected" if rejected else "good",
            active=False,
            trained_at=utcnow(),
            data_from=training.data_from,
            data_to=training.data_to,
            features=list(training.features),
            params=dict(training.params),
            metrics=dict(metrics),
            format=fmt,
            artifact=artifact,
            trained_by=training.trained_by,
        )
        session.add(row)
        session.flush()
        if rejected:
            log.warning(
                "model %s v%s rejected: %s %s worse than active v%s (%s)",
                name,
                row.version,
                training.quality_metric,
                metrics.get(training.quality_metric),
                active.version,
                active.metrics.get(training.quality_metric),
            )
            _audit(
                session,
                "model.rejected",
                row,
                training.trained_by,
                active_version=active.version,
                metric=training.quality_metric,
            )
        else:
            _activate(session, name, row)
            _audit(session, "model.trained", row, training.trained_by)
        return VersionInfo.of(row)


def record_failure(
    engine: Engine, name: str, fmt: str, training: Training, error: str
) -> VersionInfo:
    """Store a training that raised, as ``failed``: the active version stays."""
    with Session(engine) as session, session.begin():
        row = ModelVersion(
            name=name,
            version=_next_version(session, name),
            status="failed",
            active=False,
            trained_at=utcnow(),
            data_from=training.data_from,
            data_to=training.data_to,
            features=list(training.features),
            params=dict(training.params),
            metrics={},
            format=fmt,
            artifact=None,
            error=error[:4000],
            trained_by=training.trained_by,
        )
        session.add(row)
        session.flush()
        _audit(session, "model.failed", row, training.trained_by, error=error[:500])
        log.warning("model %s v%s training failed: %s", name, row.version, error)
        return VersionInfo.of(row)


def _activate(session: Session, name: str, row: ModelVersion) -> None:
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.name == name, ModelVersion.active.is_(True))
        .values(active=False)
    )
    session.flush()
    row.active = True
    session.flush()


def rollback(engine: Engine, name: str, version: int, actor: Any = None) -> VersionInfo:
    """Make an earlier ``good`` version of ``name`` the active one (audited)."""
    with Session(engine) as session, session.begin():
        row = session.scalar(
            select(ModelVersion).where(ModelVersion.name == name, ModelVersion.version == version)
        )
        if row is None:
            raise ModelError(
                _("Model %(name)s has no version %(version)s.", name=name, version=version)
            )
        if row.status != "good" or row.artifact is None:
            raise ModelError(
                _(
                    "Version %(version)s of %(name)s did not train well and cannot be activated.",
                    name=name,
                    version=version,
                )
            )
        previous = _active_row(session, name)
        _activate(session, name, row)
        from bi_app.auth.users import audit

        audit(
            session,
            "model.rollback",
            target=f"{name} v{version}",
            detail={
                "model_version_id": row.id,
                "from_version": previous.version if previous else None,
            },
            actor=actor,
        )
        return VersionInfo.of(row)


# --- reading ----------------------------------------------------------------------------------


def list_versions(engine: Engine, name: str) -> list[VersionInfo]:
    """Every stored version of ``name``, newest first (artifacts not loaded)."""
    with Session(engine) as session:
        rows = session.scalars(
            select(ModelVersion)
            .where(ModelVersion.name == name)
            .order_by(ModelVersion.version.desc())
        ).all()
        return [VersionInfo.of(r) for r in rows]


def active_version_id(engine: Engine, name: str) -> int | None:
    with engine.connect() as conn:
        return conn.scalar(
            select(ModelVersion.id).where(ModelVersion.name == name, ModelVersion.active.is_(True))
        )


_CACHE: dict[tuple[str, str], tuple[int, Any, VersionInfo]] = {}
_CACHE_LOCK = threading.Lock()


def load_active(engine: Engine, name: str) -> tuple[Any, VersionInfo] | None:
    """The active model of ``name`` and its metadata, or None when none trained well yet.

    Cached per process by version id: each call asks only which id is active (one indexed
    query), so a version trained or rolled back on another host is picked up on the next read.
    """
    key = (str(engine.url), name)
    version_id = active_version_id(engine, name)
    if version_id is None:
        return None
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None and hit[0] == version_id:
        return hit[1], hit[2]
    with Session(engine) as session:
        row = session.get(ModelVersion, version_id)
        if row is None or row.artifact is None:
            return None
        model = deserialize(row.artifact, row.format)
        info = VersionInfo.of(row)
    with _CACHE_LOCK:
        _CACHE[key] = (version_id, model, info)
    return model, info


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def update_metrics(engine: Engine, version_id: int, metrics: dict[str, Any]) -> None:
    """Merge ``metrics`` into a stored version's metrics (e.g. evaluation figures)."""
    with Session(engine) as session, session.begin():
        row = session.get(ModelVersion, version_id)
        if row is None:
            raise ModelError(_("That model version no longer exists."))
        row.metrics = {**(row.metrics or {}), **metrics}
    with _CACHE_LOCK:
        for key, (vid, _model, _info) in list(_CACHE.items()):
            if vid == version_id:
                del _CACHE[key]


def training_problems(engine: Engine, since: dt.datetime, name: str | None = None) -> int:
    """How many trainings since ``since`` (naive UTC) failed or were rejected: an alert metric."""
    query = (
        select(func.count())
        .select_from(ModelVersion)
        .where(ModelVersion.trained_at >= since, ModelVersion.status.in_(("failed", "rejected")))
    )
    if name:
        query = query.where(ModelVersion.name == name)
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


__all__ = [
    "ALLOWED_TYPES",
    "ModelError",
    "Training",
    "VersionInfo",
    "active_version_id",
    "clear_cache",
    "deserialize",
    "list_versions",
    "load_active",
    "record_failure",
    "rollback",
    "save",
    "serialize",
    "training_problems",
    "update_metrics",
]


# --- for the pages: services that find their own engine (the UI never handles one) -----------


def _default_engine() -> Engine:
    from bi_app.extensions import db

    return db.require_engine()


def versions_of(name: str) -> list[VersionInfo]:
    """:func:`list_versions` of the app's database."""
    return list_versions(_default_engine(), name)


def roll_back_to(name: str, version: int, actor: Any = None) -> VersionInfo:
    """:func:`rollback` on the app's database (audited there)."""
    return rollback(_default_engine(), name, version, actor)


def stored_names() -> list[str]:
    """The names of the models with at least one stored version."""
    with Session(_default_engine()) as session:
        return sorted(session.scalars(select(ModelVersion.name).distinct()))
