"""A private PostgreSQL server that a fault test may stop and start.

The shared server of BI_TEST_DATABASE_URL must stay up for every other test, so an outage is
played on a throw-away cluster (initdb + pg_ctl, run as the ``postgres`` user when the tests run
as root, which PostgreSQL refuses) on a free loopback port. A private Redis for the same purpose
is ``RedisProcess`` in tests/integration/test_cache.py.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import free_port, unavailable


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if not found:
        unavailable(f"PostgreSQL's {name} (Debian package postgresql)")
    return found


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


class PrivatePostgres:
    """A PostgreSQL cluster of its own; ``stop()`` and ``start()`` play an outage, ``remove()``
    deletes it. Its folder is a fresh one under the system temp directory, which the
    ``postgres`` user can reach (pytest's own tmp_path is private to root)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bi-test-pg-"))
        self.data = self.folder / "pgdata"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
            ),
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres?connect_timeout=2"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        subprocess.run(
            _as_postgres(
                [
                    _pg_bin("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-w",
                    "-l",
                    str(self.folder / "log"),
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres(
                [_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
            ),
            check=False,
            capture_output=True,
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
