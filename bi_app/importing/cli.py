"""``bi-app import PATH --kind KIND [--dry-run] [--create-missing]``: the same import as the web
page, from a shell."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bi_app.config import Settings
from bi_app.importing.reader import MAX_CLI_BYTES
from bi_app.importing.service import import_file, settings_options

SHOWN_ERRORS = 50


_STARTED = time.monotonic()


def _print_progress(phase: str, fraction: float) -> None:
    """One line per progress step on stderr (the summary alone goes to stdout): seconds since
    the command started, share done, phase."""
    elapsed = time.monotonic() - _STARTED
    print(f"  {elapsed:7.1f} s {fraction:4.0%} {phase}", file=sys.stderr, flush=True)


def cli_import(
    path: str, kind: str, *, settings: Settings, dry_run: bool = False, create_missing: bool = False
) -> int:
    """Import one file; prints the summary (with what ``create_missing`` created) and the first
    errors. Exit status 0 on success, 1 when the file was rejected or failed (nothing written
    then), 2 when the file cannot be opened."""
    from bi_app.extensions import db

    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_CLI_BYTES:
            print(
                f"bi-app import: {file.name} is {size / 1024 / 1024:.1f} MB; the limit is "
                f"{MAX_CLI_BYTES // 1024 // 1024} MB",
                file=sys.stderr,
            )
            return 2
        data = file.read_bytes()
    except OSError as exc:
        print(f"bi-app import: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if db.engine is None:
        db.init(settings.database_url)
    outcome = import_file(
        db.require_engine(),
        data,
        file.name,
        kind,
        actor="cli",
        dry_run=dry_run,
        source="cli",
        max_bytes=MAX_CLI_BYTES,
        create_missing=create_missing,
        **settings_options(settings),
        echo=_print_progress,
    )
    print(f"import #{outcome.run_id} {outcome.status}: {outcome.message}")
    for error in outcome.errors[:SHOWN_ERRORS]:
        print(
            f"  row {error.row}, {error.column}: {error.message} (value: {error.value!r})",
            file=sys.stderr,
        )
    if outcome.error_count > SHOWN_ERRORS:
        print(
            f"  ... and {outcome.error_count - SHOWN_ERRORS:,} more; the full report is on Admin → "
            "Import.",
            file=sys.stderr,
        )
    return 0 if outcome.ok else 1


def cli_sync(mapping_path: str, *, settings: Settings, full: bool = False) -> int:
    """Run a sync; prints one line per kind. Exit status 0 when every kind was imported or had
    no changes, 1 when one was refused or failed, 2 when the mapping or source is unusable."""
    from bi_app.extensions import db
    from bi_app.importing.sync import SyncError, load_mapping, run_sync

    if not mapping_path:
        print("bi-app sync: give a mapping file (or set BI_SYNC_FILE)", file=sys.stderr)
        return 2
    try:
        mapping = load_mapping(mapping_path)
        if db.engine is None:
            db.init(settings.database_url)
        result = run_sync(
            db.require_engine(),
            mapping,
            full=full,
            actor="cli",
            **settings_options(settings),
            echo=_print_progress,
            report=lambda line: print(f"sync {mapping.name}: {line}"),
        )
    except SyncError as exc:
        print(f"bi-app sync: {exc}", file=sys.stderr)
        return 2
    for item in result.kinds:
        if item.outcome is not None:
            for error in item.outcome.errors[:SHOWN_ERRORS]:
                print(
                    f"  {item.kind} row {error.row}, {error.column}: {error.message} "
                    f"(value: {error.value!r})",
                    file=sys.stderr,
                )
    return 0 if result.ok else 1
