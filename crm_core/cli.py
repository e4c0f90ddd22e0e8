"""``python -m crm_core …``: the engine headless, so every number on screen can be reproduced.

Exit codes: 0 done; 2 the input or store refused the work (one line on stderr, store unchanged);
1 an unexpected error (one line on stderr; the traceback goes to the log, never the screen).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date

from crm_core import schema
from crm_core.ingest.model import IngestError
from crm_core.store import Store, StoreError

log = logging.getLogger("crm_core.cli")

DEFAULT_DATASET = "main"


class CliError(Exception):
    """Refused work: printed as one line, exit code 2."""


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=None, default=str))


def cmd_sample(args: argparse.Namespace) -> int:
    from crm_core import sample

    paths = sample.write_exports(args.out, customers=args.customers, seed=args.seed)
    for p in paths:
        print(p)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from crm_core.ingest import pipeline

    if args.table and args.table not in schema.TABLES:
        raise CliError(f"--table must be one of {', '.join(schema.TABLE_NAMES)}, not {args.table!r}.")
    dayfirst = {"dmy": True, "mdy": False, None: None}[args.date_order]
    with Store(args.db) as store:
        prepared = []
        for file in args.files:
            try:
                prepared += pipeline.prepare_path(
                    file, store=store, dataset=args.dataset, table=args.table, dayfirst=dayfirst
                )
            except IngestError as exc:
                raise CliError(str(exc)) from exc
        usable = [p for p in prepared if not p.fatal]
        if not usable:
            first = next((pr for p in prepared for pr in p.fatal), None)
            raise CliError(f"nothing imported: {first}" if first else "nothing imported: no table found.")
        if args.strict and any(p.rows_rejected for p in usable):
            bad = next(pr for p in usable for pr in p.errors)
            total = sum(p.rows_rejected for p in usable)
            raise CliError(f"nothing imported (--strict): {total} row(s) have problems, first: {bad}")
        for line in pipeline.problem_summary(prepared)[:50]:
            print(line, file=sys.stderr)
        try:
            result = pipeline.import_prepared(store, args.dataset, usable, replace=args.replace, accept_partial=True)
        except pipeline.ImportRefused as exc:
            raise CliError(str(exc)) from exc
        if not args.no_prepare:
            from crm_core import views

            views.warm(store, result.dataset_id, slow=True)  # the pages' default views, kept: each opens at once
        tables = result.per_table()
        for p in prepared:
            if p.fatal:
                t = tables.setdefault(p.table, {"loaded": 0, "rejected": 0})
                t["rejected"] += p.rows_rejected
    if args.json:
        _print_json({"dataset": args.dataset, "tables": tables})
    else:
        for table, counts in tables.items():
            print(f"{args.dataset}: {table}: {counts['loaded']} loaded, {counts['rejected']} rejected")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    with Store(args.db) as store:
        frame = store.datasets()
    rows = [
        {
            "dataset": r["name"],
            "id": r["dataset_id"],
            "sample": r["is_sample"],
            "currency": r["currency"],
            "tables": {t: int(r[t]) for t in schema.TABLE_NAMES},
        }
        for r in frame.to_dicts()
    ]
    if args.json:
        _print_json(rows)
    elif not rows:
        print("no datasets")
    else:
        for r in rows:
            counts = ", ".join(f"{t} {n}" for t, n in r["tables"].items())
            print(f"{r['dataset']}{' (sample)' if r['sample'] else ''}: {counts}")
    return 0


def _dataset_id(store: Store, name: str | None) -> int:
    """The named dataset, or the only one; refused with the names to choose from otherwise."""
    frame = store.datasets()
    names = frame["name"].to_list()
    if name is not None:
        dataset_id = store.dataset_id(name)
        if dataset_id is None:
            raise CliError(f"no dataset named {name!r}; datasets: {', '.join(names) or 'none'}.")
        return dataset_id
    if len(names) == 1:
        return int(frame["dataset_id"][0])
    if not names:
        raise CliError("the database holds no dataset: import files first (python -m crm_core import FILE).")
    raise CliError(f"several datasets: choose one with --dataset ({', '.join(names)}).")


def _date(text: str | None, flag: str):
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"{flag} must be a date as YYYY-MM-DD, not {text!r}.") from exc


def cmd_metrics(args: argparse.Namespace) -> int:
    from crm_core.metrics.headline import headline_kpis
    from crm_core.metrics.scope import Scope

    with Store(args.db) as store:
        scope = Scope(_dataset_id(store, args.dataset), _date(args.start, "--start"), _date(args.end, "--end"))
        if scope.start and scope.end and scope.start > scope.end:
            raise CliError("--start must not be after --end.")
        kpis = headline_kpis(store, scope)
    if args.json:
        _print_json(kpis)
    else:
        from crm_core.metrics.catalog import metric

        for key, value in kpis.items():
            print(f"{metric(key).label}: {'n/a' if value is None else value}")
    return 0


def cmd_clv(args: argparse.Namespace) -> int:
    from crm_core.metrics.clv import ClvError, clv_report

    with Store(args.db) as store:
        dataset_id = _dataset_id(store, args.dataset)
        try:
            report = clv_report(
                store, dataset_id, _date(args.calibration_end, "--calibration-end"), args.time_unit,
                args.horizon, args.discount_rate,
            )
        except ClvError as exc:
            raise CliError(str(exc)) from exc
    _print_json(report) if args.json else print(json.dumps(report, indent=2, default=str))
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    """Compute and keep a dataset's default page views (``crm_core.views.warm``), e.g. for a database
    loaded before they existed; prints seconds per view."""
    from crm_core import views

    with Store(args.db) as store:
        seconds = views.warm(store, _dataset_id(store, args.dataset), slow=True)
    if args.json:
        _print_json(seconds)
    else:
        for name, s in seconds.items():
            print(f"{name}: {s:.2f} s")
    return 0


def cmd_segments(args: argparse.Namespace) -> int:
    from crm_core.metrics.differentiate import segment
    from crm_core.metrics.scope import Scope

    k: int | str = "auto"
    if args.k != "auto":
        try:
            k = int(args.k)
        except ValueError:
            raise CliError(f"--k must be 'auto' or a whole number from 2 to 8, not {args.k!r}.") from None
        if not 2 <= k <= 8:
            raise CliError(f"--k must be 'auto' or a whole number from 2 to 8, not {k}.")
    with Store(args.db) as store:
        scope = Scope(_dataset_id(store, args.dataset))
        try:
            model = segment(store, scope, k)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
    report = {
        **model.summary,
        "profile": model.profile_.to_dicts(),
    }
    _print_json(report) if args.json else print(json.dumps(report, indent=2, default=str))
    return 0


def cmd_assess(args: argparse.Namespace) -> int:
    """Score a QCI or Gartner answers file (the JSON the pages export): area/block scores and the overall."""
    from crm_core.frameworks import assessments, rubrics, scoring

    try:
        answers = assessments.read_answers_file(args.answers, args.framework)
    except scoring.AnswersError as exc:
        raise CliError(f"{args.answers}: {exc}") from exc
    card = scoring.score(rubrics.rubric(args.framework), answers)
    report = card.to_dict()
    if args.json:
        _print_json(report)
    else:
        def pct(v) -> str:
            return "n/a" if v is None else f"{v:.1%}"

        for row in report["areas" if args.framework == "qci" else "blocks"]:
            print(f"{row['section']}: {pct(row['score'])} ({card.other} {pct(row[card.other + '_pct'])})")
        print(f"Overall: {pct(card.score)} ({card.other} {pct(card.overall[card.other + '_pct'])})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """The executive report (issue #6) of a review period as PDF, HTML, PowerPoint or Excel."""
    from pathlib import Path

    from crm_core.metrics.scope import Scope, filter_options
    from crm_core.report import ReportError, export, periods, sections

    with Store(args.db) as store:
        dataset_id = _dataset_id(store, args.dataset)
        start, end = _date(args.start, "--start"), _date(args.end, "--end")
        if start and end and start > end:
            raise CliError("--start must not be after --end.")
        span = filter_options(store, dataset_id)["span"]
        if span is None:
            raise CliError("the dataset has no purchases: import transactions first.")
        kind = args.period or ("window" if start or end else "quarter")
        if kind != "window" and (start or end):
            raise CliError("--period month/quarter/year picks the latest whole period itself: leave out --start/--end.")
        period = periods.review_period(Scope(dataset_id, start, end), kind, span)
        try:
            report = sections.build_report(store, period)
            data = export.write(report, args.format)
        except ReportError as exc:
            raise CliError(str(exc)) from exc
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(f"{out}: {args.format} report of {report.dataset}, {report.period_text}")
    return 0


EXPORT_TABLES = (*schema.TABLE_NAMES, "customer_facts")


def cmd_export(args: argparse.Namespace) -> int:
    """A canonical table of a dataset as CSV or Excel, formula injection neutralized (``crm_core.safe_export``)."""
    from pathlib import Path

    from crm_core import safe_export

    if args.table not in EXPORT_TABLES:
        raise CliError(f"TABLE must be one of {', '.join(EXPORT_TABLES)}, not {args.table!r}.")
    with Store(args.db) as store:
        dataset_id = _dataset_id(store, args.dataset)
        frame = store.table(args.table, dataset_id).drop("dataset_id", "batch_id", strict=False)
    payload = safe_export.csv_bytes(frame) if args.format == "csv" else safe_export.xlsx_bytes(frame, sheet=args.table)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(payload)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror}.") from exc
    print(f"{out}: {frame.height} rows of {args.table} as {args.format}")
    return 0


def _read_new_password() -> str:
    """The new password: from stdin when it is not a terminal (scripts), else asked twice without echo."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise CliError("the two passwords differ; nothing was changed.")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    """The local users file (``crm_core.auth``): add a user or change one, remove one, list them."""
    from crm_core import auth

    path = args.file
    if args.action != "list" and not args.name:
        raise CliError(f"users {args.action} needs a user NAME.")
    try:
        if args.action == "add":
            if not args.role:
                raise CliError("users add needs --role viewer, analyst or admin.")
            password = None if args.keep_password else _read_new_password()
            users = auth.set_user(args.name, args.role, password, path=path)
            print(f"{users.path}: {args.name} is {args.role}")
        elif args.action == "remove":
            users = auth.remove_user(args.name, path=path)
            print(f"{users.path}: {args.name} removed")
        else:
            users = auth.load_users(path)
            rows = [{"user": n, "role": e["role"]} for n, e in sorted(users.users.items())]
            if args.json:
                _print_json(rows)
            else:
                for r in rows:
                    print(f"{r['user']}: {r['role']}")
    except auth.AuthError as exc:
        raise CliError(str(exc)) from exc
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    """The data-quality report of a dataset (issue #7): score, components, counts per problem, duplicate clusters."""
    from crm_core import quality

    with Store(args.db) as store:
        report = quality.kept_report(store, _dataset_id(store, args.dataset))
    out = report.to_dict()
    if args.json:
        _print_json(out)
        return 0
    score = "n/a (no customer records)" if report.score is None else f"{report.score:.1f} / 100"
    print(f"Quality score: {score}")
    for row in report.components.to_dicts():
        value = "n/a" if row["value"] is None else f"{row['value']:.1%}"
        print(f"  {row['label']} (weight {row['weight']:g}): {value}")
    for row in report.problems.to_dicts():
        print(f"{row['label']}: {row['count']:,}")
    print(f"Duplicate clusters: {len(out['clusters']):,} (phone region {report.phone_region})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crm_core", description="CRM Lens engine, headless.")
    sub = parser.add_subparsers(dest="command", required=True)

    def db_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=None, help="database file (default: $CRM_LENS_DB or data/crm.duckdb)")

    p = sub.add_parser("sample", help="write the sample company as CSV exports")
    p.add_argument("--out", required=True)
    p.add_argument("--customers", type=int, default=3000)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("import", help="import CRM export files (CSV, XLSX, Parquet)")
    p.add_argument("files", nargs="+")
    db_args(p)
    p.add_argument("--dataset", default=DEFAULT_DATASET)
    p.add_argument("--table", default=None, help="force the table kind: " + ", ".join(schema.TABLE_NAMES))
    p.add_argument("--replace", action="store_true", help="replace the table's rows instead of appending")
    p.add_argument("--strict", action="store_true", help="import nothing if any row has a problem")
    p.add_argument("--date-order", choices=["dmy", "mdy"], default=None, help="day/month order for ambiguous dates")
    p.add_argument("--no-prepare", action="store_true",
                   help="skip computing the analysis pages' default views after the import (pages compute them "
                        "when first opened)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("prepare", help="compute and keep the analysis pages' default views of a dataset")
    db_args(p)
    p.add_argument("--dataset", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("metrics", help="headline KPIs of a dataset, keyed by catalog id")
    db_args(p)
    p.add_argument("--dataset", default=None, help="dataset name (default: the only one)")
    p.add_argument("--start", default=None, help="first day of the analysis window, YYYY-MM-DD")
    p.add_argument("--end", default=None, help="last day of the analysis window, YYYY-MM-DD")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser("clv", help="fit BG/NBD + Gamma-Gamma and report CLV (and a holdout check)")
    db_args(p)
    p.add_argument("--dataset", default=None, help="dataset name (default: the only one)")
    p.add_argument("--calibration-end", required=True, help="last day of the calibration period, YYYY-MM-DD")
    p.add_argument("--time-unit", choices=["day", "week", "month"], default="week")
    p.add_argument("--horizon", type=int, default=12, help="CLV horizon in months (default 12)")
    p.add_argument("--discount-rate", type=float, default=0.01, help="discount rate per month (default 0.01)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_clv)

    p = sub.add_parser("segments", help="k-means customer segments with their profiles")
    db_args(p)
    p.add_argument("--dataset", default=None, help="dataset name (default: the only one)")
    p.add_argument("--k", default="auto", help="number of segments, or auto (chosen by silhouette in 2..8)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_segments)

    p = sub.add_parser("datasets", help="list datasets with row counts per table")
    db_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("assess", help="score a QCI or Gartner answers file (the JSON the pages export)")
    p.add_argument("--framework", required=True, choices=["qci", "gartner"])
    p.add_argument("--answers", required=True, help="answers JSON file, as exported by the QCI / Gartner page")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_assess)
    p = sub.add_parser("report", help="executive review report: PDF, self-contained HTML, PowerPoint or Excel")
    db_args(p)
    p.add_argument("--format", required=True, choices=["pdf", "html", "pptx", "xlsx"])
    p.add_argument("--out", required=True, help="file to write")
    p.add_argument("--dataset", default=None, help="dataset name (default: the only one)")
    p.add_argument("--start", default=None, help="first day of the period reviewed, YYYY-MM-DD (a custom window)")
    p.add_argument("--end", default=None, help="last day of the period reviewed, YYYY-MM-DD (a custom window)")
    p.add_argument("--period", choices=["quarter", "month", "year", "window"], default=None,
                   help="the latest whole quarter (default), month or year of the data, or the --start/--end window")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export", help="write a canonical table as CSV or Excel (formula injection neutralized)")
    p.add_argument("table", help="one of " + ", ".join(EXPORT_TABLES))
    p.add_argument("--format", required=True, choices=["csv", "xlsx"])
    p.add_argument("--out", required=True, help="file to write")
    db_args(p)
    p.add_argument("--dataset", default=None, help="dataset name (default: the only one)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("users", help="local users file for a shared deployment (roles viewer, analyst, admin)")
    p.add_argument("action", choices=["add", "remove", "list"])
    p.add_argument("name", nargs="?", default=None)
    p.add_argument("--role", choices=["viewer", "analyst", "admin"], default=None)
    p.add_argument("--keep-password", action="store_true", help="add: change only the role of an existing user")
    p.add_argument("--file", default=None, help="users file (default: $CRM_LENS_USERS or .streamlit/users.toml)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_users)
    p = sub.add_parser("quality", help="data-quality report: score, components, problems, duplicate clusters")
    db_args(p)
    p.add_argument("--dataset", default=None, help="dataset name (default: the only one)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_quality)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CliError, StoreError, IngestError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the user gets one line, the log the traceback
        log.exception("unexpected error in %s", args.command)
        print(f"error: unexpected {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return 1
