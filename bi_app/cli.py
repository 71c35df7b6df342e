"""The ``bi-app`` command line: db, demo, rollups, users, run, setup, config.

Each sub-command is a thin shell over a ``bi_app`` service; errors an operator can fix
(configuration, an unreachable database) are printed as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from bi_app.config import ConfigError, Settings, load_dotenv_once


def _settings() -> Settings:
    load_dotenv_once()
    return Settings.from_env()


def _engine(settings: Settings):
    from bi_app.db.engine import check_connection
    from bi_app.extensions import db

    db.init(settings.database_url)
    check_connection(db.require_engine())
    return db.require_engine()


def _invalidate_caches(settings: Settings) -> None:
    """Data changed outside the web app: drop cached query results (Redis or file cache)."""
    from bi_app.data.cache import invalidate_for_settings

    invalidate_for_settings(settings)


def _recompute_customer_analytics(engine) -> None:
    """Customer segments and churn tags are derived data: build them right after a load."""
    import datetime as dt

    from bi_app.customer_tags import recompute
    from bi_app.db.periods import local_date

    recompute(engine, local_date(dt.datetime.now(dt.UTC)), full=True)


def _echo(line: str) -> None:
    print(line, flush=True)


def _ensure_business_days(settings: Settings, engine) -> None:
    """After migrating: rebuild the roll-ups when they cut days in another zone than
    ``BI_TIMEZONE`` (saying so), then the derived customer figures and the cached results."""
    from bi_app.db.business_days import ensure_rollup_timezone
    from bi_app.db.periods import use_timezone

    with use_timezone(settings.timezone):
        if ensure_rollup_timezone(engine, settings.timezone, _echo) is None:
            return
        _recompute_customer_analytics(engine)
    _invalidate_caches(settings)


def cmd_db(args: argparse.Namespace) -> int:
    from bi_app.db import migrate
    from bi_app.extensions import db

    settings = _settings()
    _engine(settings)
    if args.action == "upgrade":
        migrate.upgrade(settings.database_url, args.revision or "heads")
        print(f"database at {settings.masked()['BI_DATABASE_URL']} is up to date")
        if not args.revision:  # a partial upgrade may stop before app_state exists
            _ensure_business_days(settings, db.require_engine())
    else:
        migrate.downgrade(settings.database_url, args.revision or "-1")
        print("downgraded")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bi_app.db import demo

    settings = _settings()
    engine = _engine(settings)
    summary = demo.load_demo(
        engine,
        scale=args.scale,
        seed=args.seed,
        progress=not args.quiet,
        replace=args.replace,
        locale=args.locale,
    )
    _recompute_customer_analytics(engine)
    _invalidate_caches(settings)
    print(json.dumps(summary, default=str, indent=2))
    return 0


def cmd_rollups(args: argparse.Namespace) -> int:
    """Rebuild every roll-up and customer bitmap with days in ``BI_TIMEZONE``, with progress."""
    from bi_app.db.business_days import rebuild_for_timezone
    from bi_app.db.periods import use_timezone

    settings = _settings()
    engine = _engine(settings)
    with use_timezone(settings.timezone):
        summary = rebuild_for_timezone(engine, settings.timezone, _echo)
        _echo("customer figures: recomputing")
        _recompute_customer_analytics(engine)
    _invalidate_caches(settings)
    _echo(f"done: {sum(summary['rows'].values()):,} rows in {len(summary['rows'])} tables")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from bi_app import auth
    from bi_app.extensions import db

    settings = _settings()
    _engine(settings)
    with db.session() as session:
        if args.action == "list":
            for user in auth.list_users(session):
                state = "active" if user.active else "disabled"
                print(f"{user.username:<24} {user.role:<8} {state}")
            return 0
        if args.action == "sign-out":
            ended = auth.sign_out_everywhere(session, args.username, actor="cli")
            session.commit()
            print(f"user {args.username}: {ended} session(s) ended")
            return 0
        if args.password:
            print(
                "warning: --password is visible in the process list and shell history; "
                "prefer --password-stdin",
                file=sys.stderr,
            )
        typed = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else args.password
        password = typed or secrets.token_urlsafe(12)
        if args.action == "create":
            auth.create_user(session, args.username, password, args.role, actor="cli")
        else:
            auth.set_password(session, args.username, password, actor="cli")
        session.commit()
    if not typed:
        print(f"password for {args.username}: {password}")
    print(f"user {args.username}: {args.action} done")
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    """Migrate, load demo data into an empty database and make sure an admin exists."""
    from bi_app import auth
    from bi_app.db import demo, migrate
    from bi_app.extensions import db

    settings = _settings()
    engine = _engine(settings)
    migrate.upgrade(settings.database_url)
    if demo.is_empty(engine):
        print("empty database: loading demo data ...", flush=True)
        demo.load_demo(engine, scale=args.scale, seed=42, progress=True, locale=args.demo_locale)
        _recompute_customer_analytics(engine)
        _invalidate_caches(settings)
    _ensure_business_days(settings, engine)
    with db.session() as session:
        password = settings.admin_password
        created = auth.ensure_admin(session, "admin", password or None)
        session.commit()
    if created:
        print(
            f"created user 'admin' with password: {created}"
            if not password
            else "created user 'admin' with the password from BI_ADMIN_PASSWORD"
        )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bi_app import create_app

    settings = _settings()
    _engine(settings)
    app = create_app(settings)
    app.run(
        host=args.host or settings.host,
        port=args.port or settings.port,
        debug=settings.debug,
        dev_tools_disable_version_check=True,
    )
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    from bi_app import create_app
    from bi_app.jobs import cli as jobs_cli

    settings = _settings()
    _engine(settings)
    app = create_app(replace(settings, scheduler=False))
    with app.server.app_context():
        return jobs_cli.cli_list() if args.action == "list" else jobs_cli.cli_run(args.name)


def cmd_status(args: argparse.Namespace) -> int:
    from bi_app.monitoring.status import cli_status

    return cli_status(_settings())


def cmd_sync(args: argparse.Namespace) -> int:
    from bi_app.importing.cli import cli_sync

    settings = _settings()
    _engine(settings)
    return cli_sync(args.mapping or settings.sync_file, settings=settings, full=args.full)


def cmd_import(args: argparse.Namespace) -> int:
    from bi_app.importing.cli import cli_import

    settings = _settings()
    _engine(settings)
    return cli_import(
        args.path,
        args.kind,
        settings=settings,
        dry_run=args.dry_run,
        create_missing=args.create_missing,
    )


def cmd_config(args: argparse.Namespace) -> int:
    for key, value in _settings().masked().items():
        print(f"{key}={'' if value is None else value}")
    return 0


EVALUATED_MODELS = ("transactions", "forecasts", "churn", "attendance")


def _evaluate_one(name: str, engine: Any, settings: Settings) -> dict[str, Any]:
    if name == "transactions":
        from bi_app.models.transactions import evaluate, large_threshold_minor

        return evaluate(engine, large_threshold_minor(settings))
    if name == "forecasts":
        from bi_app.forecasting import app_holiday_country, evaluate

        return evaluate(engine, currency=settings.currency, country=app_holiday_country())
    if name == "churn":
        from bi_app.models.churn import evaluate

        return evaluate(engine)
    from bi_app.models.attendance import evaluate

    return evaluate(engine)


def _print_transactions(result: dict[str, Any]) -> None:
    print(
        f"transactions: {result['transactions']}, injected anomalies: {result['anomalies']}, "
        f"model transactions_iforest v{result['version']} ({result['status']}), "
        f"fit {result['fit_seconds']:.2f} s, scoring {result['score_seconds']:.2f} s"
    )
    print(f"{'detector':<20}{'precision':>10}{'recall':>10}{'F1':>10}{'flagged':>10}")
    for name, figures in result["detectors"].items():
        print(
            f"{name:<20}{figures['precision']:>10.3f}{figures['recall']:>10.3f}"
            f"{figures['f1']:>10.3f}{figures['flagged']:>10}"
        )


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.1%}"


def _print_forecasts(result: dict[str, Any]) -> None:
    targets = result["targets"]
    low, high = targets["coverage"]
    print(
        f"forecasts (targets: MAPE <= {targets['ratio_max']:g} x the seasonal-naive baseline's, "
        f"80 % interval coverage {low:.0%}-{high:.0%})"
    )
    print(f"{'series':<16}{'MAPE':>9}{'baseline':>10}{'ratio':>8}{'coverage':>10}  verdict")
    for name, f in result["series"].items():
        if f.get("error"):
            print(f"{name:<16}  {f['error']}")
            continue
        ratio = "n/a" if f["ratio"] is None else f"{f['ratio']:.2f}"
        verdict = "met" if f["met"] else "missed"
        print(
            f"{name:<16}{_pct(f['mape']):>9}{_pct(f['baseline_mape']):>10}{ratio:>8}"
            f"{_pct(f['coverage']):>10}  {verdict} ({f['source']})"
        )


def _print_churn(result: dict[str, Any]) -> None:
    print(
        f"churn: customer_churn v{result['version']} ({result['status']}): "
        f"ROC AUC {result['auc']:.3f}, top-decile precision {result['top_decile_precision']:.3f}, "
        f"base rate {result['base_rate']:.3f}, hold-out {result['holdout_from']} .. "
        f"{result['holdout_to']} ({result['rows_test']} customers), "
        f"fit {result['fit_seconds']:.2f} s"
    )


def _print_attendance(result: dict[str, Any]) -> None:
    print(
        f"attendance: event_attendance v{result['version']} ({result['status']}): "
        f"{result['rows']} events, hold-out {result['holdout_events']}: "
        f"MAE {result['mae']:.1f} people (baseline {result['baseline_mae']:.1f}), "
        f"MAPE {_pct(result['mape'])}, {result['interval_nominal']:.0%} interval coverage "
        f"{_pct(result['coverage'])}, fit {result['fit_seconds']:.2f} s"
    )


PRINTERS = {
    "transactions": _print_transactions,
    "forecasts": _print_forecasts,
    "churn": _print_churn,
    "attendance": _print_attendance,
}


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Measure the models against the data: the transaction detector against the demo's
    injected anomalies (trained on all the data, every transaction scored), the forecasts'
    backtest against the seasonal-naive baseline, the churn classifier's and the attendance
    forecast's time-based hold-outs. Trainings are stored as new versions with their figures."""
    from bi_app.db.periods import use_timezone
    from bi_app.models.registry import ModelError

    settings = _settings()
    engine = _engine(settings)
    names = EVALUATED_MODELS if args.model == "all" else (args.model,)
    results: dict[str, Any] = {}
    failed = False
    for name in names:
        try:
            with use_timezone(settings.timezone):
                results[name] = _evaluate_one(name, engine, settings)
        except ModelError as exc:
            print(f"bi-app: {name}: {exc}", file=sys.stderr)
            results[name] = {"error": str(exc)}
            failed = True
    if args.json:
        single = len(names) == 1 and "error" not in results[names[0]]
        print(json.dumps(results[names[0]] if single else results, default=str, indent=2))
    else:
        for name in names:
            if "error" not in results[name]:
                PRINTERS[name](results[name])
    return 2 if failed else 0


REPORT_FORMATS = ("pdf", "xlsx")


def cmd_report(args: argparse.Namespace) -> int:
    """Build a report of a period and write it as PDF or an Excel workbook, with progress."""
    from bi_app import create_app
    from bi_app.errors import ServiceError
    from bi_app.reports import periods
    from bi_app.reports.model import SECTIONS

    settings = _settings()
    sections = [s.strip() for s in (args.sections or "").split(",") if s.strip()] or None
    unknown = sorted(set(sections or ()) - set(SECTIONS))
    if unknown:
        print(
            f"bi-app: unknown sections: {', '.join(unknown)} (choose from {', '.join(SECTIONS)})",
            file=sys.stderr,
        )
        return 2
    fmt = args.format or (args.out.rsplit(".", 1)[-1].lower() if "." in args.out else "pdf")
    if fmt not in REPORT_FORMATS:
        print(f"bi-app: --format must be pdf or xlsx, not {fmt!r}", file=sys.stderr)
        return 2
    app = create_app(replace(settings, scheduler=False))
    with app.server.app_context():
        from bi_app.db.periods import business_timezone
        from bi_app.filters import local_today
        from bi_app.reports.content import build_report

        tz = business_timezone()
        try:
            if args.start or args.end:
                if not (args.start and args.end):
                    raise periods.ReportError("Give both --from and --to for a custom period.")
                period = periods.custom_period(
                    _iso_date(args.start, "--from"), _iso_date(args.end, "--to"), tz
                )
            else:
                period = periods.period_for(args.period, local_today(), tz)
            report = build_report(period, sections, locale=args.locale, progress=_progress)
            print(file=sys.stderr)
            if fmt == "pdf":
                from bi_app.reports.pdf import render_pdf

                data = render_pdf(report)
            else:
                from bi_app.reports.excel import render_xlsx

                data = render_xlsx(report)
        except (ServiceError, ValueError) as exc:
            print(f"\nbi-app: {exc}", file=sys.stderr)
            return 2
    with open(args.out, "wb") as out:
        out.write(data)
    print(f"{args.out}: {report.period_label}, {len(data):,} bytes", file=sys.stderr)
    return 0


def _iso_date(text: str, option: str) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} must be a date like 2026-11-30, not {text!r}") from None


def _progress(done: int, total: int, step: str) -> None:
    print(f"\r[{done}/{total}] {step:<40}", end="", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bi-app", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("db", help="database migrations")
    p.add_argument("action", choices=("upgrade", "downgrade"))
    p.add_argument("revision", nargs="?")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("demo", help="generate and load deterministic demo data")
    p.add_argument("--scale", type=float, default=1.0, help="1.0 is ~50k orders; 200 is 10M")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--replace", action="store_true", help="delete existing business data first")
    p.add_argument(
        "--locale",
        choices=("en", "ko"),
        default="en",
        help="en: an EUR shop; ko: a Korean one in won (serve it with BI_CURRENCY=KRW, "
        "BI_TIMEZONE=Asia/Seoul, BI_LOCALE=ko)",
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("rollups", help="rebuild the roll-ups (days in BI_TIMEZONE)")
    p.add_argument("action", choices=("rebuild",))
    p.set_defaults(func=cmd_rollups)

    p = sub.add_parser("users", help="manage users")
    p.add_argument("action", choices=("create", "list", "set-password", "sign-out"))
    p.add_argument("username", nargs="?")
    p.add_argument("--role", default="viewer", choices=("admin", "analyst", "viewer"))
    p.add_argument("--password", help="omit to generate one (printed once)")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("setup", help="migrate, load demo data when empty, ensure an admin user")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--demo-locale", choices=("en", "ko"), default="en", help="as demo --locale")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("run", help="serve the app with the development server")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("jobs", help="list background jobs or run one now")
    p.add_argument("action", choices=("list", "run"))
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("import", help="import a CSV, .xlsx or Parquet file (all or nothing)")
    p.add_argument("path")
    # bi_app.importing.KINDS spelled out: importing it would slow every command by a second
    # (tests/unit/test_import_validation.py keeps the two equal)
    p.add_argument(
        "--kind",
        required=True,
        choices=(
            "platforms",
            "categories",
            "customers",
            "products",
            "orders",
            "visits",
            "event_costs",
            "event_revenues",
            "channel_stats",
        ),
    )
    p.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
    p.add_argument(
        "--create-missing",
        action="store_true",
        help="create the platforms, categories and customers the file names but the database "
        "lacks (named after their code), in the same transaction; never products or events",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "sync", help="import what changed in a source database since the last sync (a mapping file)"
    )
    p.add_argument("mapping", nargs="?", help="the mapping file (default: BI_SYNC_FILE)")
    p.add_argument("--full", action="store_true", help="read every row, not only what changed")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("status", help="overall health, each check, scheduler leader, late jobs")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "evaluate",
        help="measure the models: the transaction detector against the demo's injected "
        "anomalies (precision, recall, F1), the forecasts against their baseline (MAPE, "
        "coverage), the churn and attendance models on their hold-outs",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument(
        "--model",
        choices=("all", *EVALUATED_MODELS),
        default="all",
        help="which model to measure (default: all; JSON of one model is its figures alone)",
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "report", help="write a report of a period as PDF or an Excel workbook (with progress)"
    )
    p.add_argument("--period", choices=("daily", "weekly", "monthly"), default="weekly")
    p.add_argument("--from", dest="start", help="first day of a custom period (YYYY-MM-DD)")
    p.add_argument("--to", dest="end", help="last day of a custom period (YYYY-MM-DD)")
    p.add_argument("--format", choices=REPORT_FORMATS, help="default: the --out file's extension")
    p.add_argument("--sections", help="comma-separated sections (default: all)")
    p.add_argument("--locale", choices=("en", "ko"), help="default: BI_LOCALE")
    p.add_argument("--out", required=True, help="the file to write")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("config", help="print the effective settings, secrets masked")
    p.set_defaults(func=cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from bi_app.auth import UserError
    from bi_app.db.demo import DemoDataExists
    from bi_app.db.engine import DatabaseUnavailable

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "users" and args.action != "list" and not args.username:
        parser.error("users create/set-password need a USERNAME")
    if args.command == "jobs" and args.action == "run" and not args.name:
        parser.error("jobs run needs a NAME")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (ConfigError, DatabaseUnavailable, UserError, DemoDataExists) as exc:
        print(f"bi-app: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
