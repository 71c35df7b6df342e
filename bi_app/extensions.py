"""Extensions created bare at import and bound to an app in ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_caching import Cache
from flask_login import LoginManager
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bi_app.db.engine import make_engine, make_session_factory

cache = Cache()
login_manager = LoginManager()


@dataclass
class Database:
    """Holds the engine and session factory of the app that was last created in this process."""

    engine: Engine | None = None
    session_factory: sessionmaker[Session] | None = field(default=None, repr=False)

    def init(self, url: str) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.engine = make_engine(url)
        self.session_factory = make_session_factory(self.engine)

    def session(self) -> Session:
        if self.session_factory is None:
            raise RuntimeError("database not initialised: call create_app() first")
        return self.session_factory()

    def require_engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("database not initialised: call create_app() first")
        return self.engine


db = Database()
