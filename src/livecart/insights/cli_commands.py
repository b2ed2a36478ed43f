"""`livecart insights clv ...` (BG/NBD and Gamma-Gamma fits, scores, the holdout check) and
`livecart import ...` (outside history into the behaviour-event log)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from livecart.core.clock import SystemClock
from livecart.core.errors import Conflict, DomainError, InvalidInput, NotFound
from livecart.events.cli_commands import DataDir, log_root
from livecart.insights.errors import InvalidInputFile
from livecart.insights.report_commands import app as report_app
from livecart.insights.schemas import (
    HoldoutReport,
    ImportReport,
    InputReport,
    PortraitStoreReport,
    ScoreReport,
)
from livecart.insights.willbuy_cli import app as willbuy_app
from livecart.settings import Settings

if TYPE_CHECKING:
    from livecart.insights.importers import Format
    from livecart.insights.portraits import Engine as PortraitEngineName
    from livecart.insights.transactions import Layout, TransactionLog
    from livecart.insights.transactions import Progress as ReadProgress

# The model code (numpy, SciPy, matplotlib) is imported inside the commands: every other
# `livecart` command, `serve` included, starts without paying for it.

app = typer.Typer(help="Consumer insights: customer-base models and reports.", no_args_is_help=True)
clv_app = typer.Typer(
    help="Customer lifetime value: BG/NBD purchases and dropout, Gamma-Gamma spend.",
    no_args_is_help=True,
)
app.add_typer(clv_app, name="clv")
app.add_typer(report_app, name="report")
app.add_typer(willbuy_app, name="willbuy")
# Registered as `livecart import` by cli.py.
import_app = typer.Typer(
    help="Import outside history into the behaviour-event log (bad lines are reported).",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)

T = TypeVar("T")


class LayoutName(StrEnum):
    cdnow = "cdnow"
    online_retail = "online-retail"


AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TransactionsFile = Annotated[
    Path, typer.Option("--transactions", help="Transactions file.", dir_okay=False)
]
FormatOption = Annotated[
    LayoutName, typer.Option("--format", help="Layout of the transactions file.")
]
HorizonDays = Annotated[
    int, typer.Option("--horizon-days", min=1, help="Days after the calibration end to forecast.")
]
SkipBadLines = Annotated[
    bool,
    typer.Option(
        "--skip-bad-lines",
        help="Leave unreadable lines out (they are counted and listed) instead of failing.",
    ),
]


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def _run(as_json: bool, job: Callable[[], T]) -> T:
    """Run a command's work; a domain error or unreadable file ends it with a clear message."""
    try:
        return job()
    except DomainError as exc:
        failure: DomainError = exc
    except OSError as exc:
        failure = InvalidInputFile(f"{exc.filename}: {exc.strerror}", code="input_file_unreadable")
    if as_json:
        typer.echo(json.dumps(failure.to_dict()))
    errors.print(f"[red]error[/red] ({failure.code}): {failure.message}", soft_wrap=True)
    # 2 for input the user can fix (like a usage error, or a file imported before), 1 for a
    # model that could not be fitted.
    raise typer.Exit(2 if isinstance(failure, InvalidInput | NotFound | Conflict) else 1)


@contextmanager
def _step(text: str) -> Iterator[None]:
    with errors.status(text, spinner="dots"):
        yield


@contextmanager
def _reading(path: Path) -> Iterator[ReadProgress]:
    """A progress bar on stderr over the file's size; yields the readers' progress callback."""
    size = path.stat().st_size if path.is_file() else 0
    columns = (TextColumn("reading {task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TimeElapsedColumn(), console=errors, transient=True) as progress:
        task = progress.add_task(path.name, total=size)
        yield lambda done: progress.advance(task, done)


def _read(path: Path, layout: Layout, skip_bad_lines: bool) -> tuple[TransactionLog, InputReport]:
    from livecart.insights import service

    with _reading(path) as progress:
        log, report = service.read_log(
            path, layout=layout, skip_bad_lines=skip_bad_lines, progress=progress
        )
    if report.bad_lines:
        errors.print(
            f"[yellow]{report.bad_lines} unreadable line(s) left out[/yellow]: "
            + "; ".join(f"line {p.line}: {p.message}" for p in report.first_bad_lines[:5]),
            soft_wrap=True,
        )
    return log, report


@clv_app.command("fit")
def fit(
    summary: Annotated[
        Path, typer.Option("--summary", help="CSV of ID,frequency,recency,T (weeks).")
    ],
    skip_bad_lines: SkipBadLines = False,
    as_json: AsJson = False,
) -> None:
    """Fit BG/NBD by maximum likelihood to a customer summary file."""

    def job() -> dict[str, float]:
        from livecart.insights import service

        model, rows = service.fit_summary_file(summary, skip_bad_lines=skip_bad_lines)
        if rows.problems:
            errors.print(f"[yellow]{len(rows.problems)} unreadable line(s) left out[/yellow]")
        return model.to_dict()

    with _step("fitting BG/NBD"):
        params = _run(as_json, job)
    if as_json:
        typer.echo(json.dumps(params))
        return
    table = Table("parameter", "value", title=f"BG/NBD on {summary.name}")
    for name, value in params.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)


@clv_app.command("score")
def score(
    transactions: TransactionsFile,
    out: Annotated[Path, typer.Option("--out", help="CSV to write the scores to.")],
    layout: FormatOption = LayoutName.cdnow,
    calibration_end: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="Last day of the calibration period (default: last day)."
        ),
    ] = None,
    horizon_days: HorizonDays = 273,
    skip_bad_lines: SkipBadLines = False,
    as_json: AsJson = False,
) -> None:
    """Score every customer: P(alive), expected purchases and value over the horizon."""

    def job() -> ScoreReport:
        from livecart.insights import service
        from livecart.insights.transactions import calibration_summary

        log, input_report = _read(transactions, layout.value, skip_bad_lines)
        end = _day(calibration_end) or max(max(days) for days in log.purchases.values())
        summary = calibration_summary(log, end)
        with _step(f"fitting BG/NBD and Gamma-Gamma on {len(summary.customer_ids):,} customers"):
            scores = service.score_customers(summary, horizon_days=horizon_days)
        service.write_scores(scores, out)
        return ScoreReport(
            out=str(out),
            customers=len(scores.customer_ids),
            new_after_calibration=summary.new_after_calibration,
            calibration_end=end,
            horizon_days=horizon_days,
            bgnbd=scores.bgnbd.to_dict(),
            gamma_gamma=scores.gamma_gamma.to_dict(),
            expected_purchases_total=float(scores.expected_purchases.sum()),
            expected_value_total=float(scores.expected_value.sum()),
            input=input_report,
        )

    report = _run(as_json, job)
    if as_json:
        typer.echo(report.model_dump_json())
        return
    console.print(
        f"wrote {report.customers:,} customers to {report.out} "
        f"(calibration to {report.calibration_end}, horizon {report.horizon_days} days)"
    )
    table = Table("model", "parameters", "log-likelihood")
    table.add_row("BG/NBD", *_parameters(report.bgnbd))
    table.add_row("Gamma-Gamma", *_parameters(report.gamma_gamma))
    console.print(table)
    console.print(
        f"expected purchases {report.expected_purchases_total:,.1f}, "
        f"expected value {report.expected_value_total:,.2f}"
    )


def _parameters(params: dict[str, float] | dict[str, float | int]) -> tuple[str, str]:
    shown = ", ".join(
        f"{k}={v:.4f}" for k, v in params.items() if k not in ("log_likelihood", "customers")
    )
    return shown, f"{params['log_likelihood']:.1f}"


@clv_app.command("holdout")
def holdout(
    transactions: TransactionsFile,
    calibration_end: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day of the calibration period.")
    ],
    layout: FormatOption = LayoutName.cdnow,
    horizon_days: HorizonDays = 273,
    chart: Annotated[
        Path | None,
        typer.Option(help="Write the weekly tracking chart here (.png or .svg)."),
    ] = None,
    skip_bad_lines: SkipBadLines = False,
    as_json: AsJson = False,
) -> None:
    """Calibrate, forecast the holdout, and compare: AUC of buying again, totals, weekly."""

    def job() -> HoldoutReport:
        from livecart.insights import service
        from livecart.insights.charts import CHART_SUFFIXES, draw_tracking_chart
        from livecart.insights.transactions import calibration_summary

        if chart is not None and chart.suffix.lower() not in CHART_SUFFIXES:
            raise InvalidInput(
                f"--chart {chart}: the chart is written as .png or .svg", code="chart_format"
            )
        log, input_report = _read(transactions, layout.value, skip_bad_lines)
        summary = calibration_summary(log, calibration_end.date())
        with _step(f"fitting and forecasting {len(summary.customer_ids):,} customers"):
            report = service.holdout_report(
                log, summary, horizon_days=horizon_days, input_report=input_report, chart=chart
            )
        if chart is not None:
            with _step(f"drawing {chart}"):
                draw_tracking_chart(report, chart)
        return report

    report = _run(as_json, job)
    if as_json:
        typer.echo(report.model_dump_json())
        return
    table = Table("figure", "value", title=f"holdout of {report.horizon_days} days")
    table.add_row("customers", f"{report.customers:,}")
    table.add_row("BG/NBD", _parameters(report.bgnbd)[0])
    table.add_row("AUC (buys again)", f"{report.auc_buys_again:.4f}")
    table.add_row("buyers in the holdout", f"{report.buyers_in_holdout:,}")
    table.add_row("repeat purchases: forecast", f"{report.forecast_repeat_purchases:,.1f}")
    table.add_row("repeat purchases: actual", f"{report.actual_repeat_purchases:,}")
    console.print(table)
    if report.chart:
        console.print(f"chart: {report.chart}")


ImportFile = Annotated[Path, typer.Argument(help="The file to import.", dir_okay=False)]
Strict = Annotated[
    bool,
    typer.Option("--strict", help="Refuse the whole file if any line is bad (exit 2)."),
]
# What each `livecart import FORMAT` reads, for its help text.
IMPORT_FORMATS: tuple[tuple[Format, str], ...] = (
    ("taobao", "a Taobao UserBehavior CSV: user_id,item_id,category_id,pv|cart|fav|buy,unix time"),
    ("cdnow", "a CDNOW transactions file: customer_id date number_of_cds dollar_value"),
    ("online-retail", "a UCI Online Retail CSV (invoices starting with C become returns)"),
)


def _import(fmt: Format, path: Path, *, data_dir: Path | None, strict: bool, as_json: bool) -> None:
    from livecart.insights.importers import import_file
    from livecart.insights.transactions import SHOWN_PROBLEMS

    root = log_root(data_dir)

    def job() -> ImportReport:
        with _reading(path) as progress:
            return import_file(
                root, path, fmt=fmt, now=SystemClock().now(), strict=strict, progress=progress
            )

    report = _run(as_json, job)
    if as_json:
        typer.echo(report.model_dump_json())
        return
    console.print(
        f"imported {report.imported:,} events from {report.lines:,} lines of {path.name} "
        f"({fmt}) into {report.log}, {len(report.written):,} file(s)",
        soft_wrap=True,
        markup=False,
    )
    table = Table("event type", "events", title="imported")
    for kind, count in report.by_type.items():
        table.add_row(kind, f"{count:,}")
    console.print(table)
    for reason, count in report.skipped.items():
        console.print(f"left out as {reason.replace('_', ' ')}: {count:,} line(s)")
    if report.without_customer:
        console.print(
            f"{report.without_customer:,} line(s) without a customer id: imported with no "
            "anonymous_id (they count in sales, not in any portrait)"
        )
    if report.bad:
        console.print(f"[yellow]{len(report.bad):,} bad line(s) not imported[/yellow]:")
        for bad in report.bad[:SHOWN_PROBLEMS]:
            console.print(f"  line {bad.line}: {bad.reason}", soft_wrap=True, markup=False)
        if len(report.bad) > SHOWN_PROBLEMS:
            console.print(f"  ... and {len(report.bad) - SHOWN_PROBLEMS:,} more (all with --json)")


def _import_command(fmt: Format, reads: str) -> Callable[..., None]:
    def command(
        file: ImportFile, data_dir: DataDir = None, strict: Strict = False, as_json: AsJson = False
    ) -> None:
        _import(fmt, file, data_dir=data_dir, strict=strict, as_json=as_json)

    command.__doc__ = f"Import {reads}."
    return command


for _fmt, _reads in IMPORT_FORMATS:
    import_app.command(_fmt)(_import_command(_fmt, _reads))


class PortraitEngine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


@app.command("portraits")
def portraits(
    events: Annotated[
        Path | None,
        typer.Option(
            "--events",
            help="The behaviour-event log (its root folder); default: the configured one.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Parquet file to write.", dir_okay=False)
    ] = None,
    engine: Annotated[
        PortraitEngine, typer.Option("--engine", help="duckdb (in process) or spark (local).")
    ] = PortraitEngine.duckdb,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Last day counted (UTC) and the day recency is measured from; default: the "
            "day of the latest event. Not with --store.",
        ),
    ] = None,
    store: Annotated[
        bool,
        typer.Option(
            "--store",
            help="Fold the log files no run has processed into the configured database and "
            "store every consumer's portrait, affinities and fan levels there (incremental).",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Consumer portraits from the event log, one row per consumer, on DuckDB or Spark."""
    import time

    from livecart.insights import portraits as pipeline

    if out is None and not store:
        raise typer.BadParameter("give --out FILE, --store, or both")
    if store and as_of is not None:
        raise typer.BadParameter("--as-of is not used with --store (stored runs count every day)")
    root = events if events is not None else Settings().event_log_dir
    chosen = pipeline.Engine(engine.value)
    started = time.perf_counter()
    report: dict[str, object] = {}
    if out is not None:
        target = out

        def job() -> pipeline.PortraitRun:
            with errors.status(f"portraits on {engine.value}", spinner="dots") as status:
                run = pipeline.run(
                    chosen, root, as_of=_day(as_of), step=lambda text: status.update(text)
                )
                status.update(f"writing {target}")
                pipeline.write(run, target)
            return run

        run = _run(as_json, job)
        report = {
            "engine": run.engine.value,
            "consumers": run.table.num_rows,
            # The whole command (a Spark session's start included), and the engine's part.
            "seconds": round(time.perf_counter() - started, 3),
            "engine_seconds": round(run.seconds, 3),
            "out": str(out),
            "as_of": run.as_of.isoformat(),
        }
    if store:

        def store_job() -> PortraitStoreReport:
            with errors.status(f"stored portraits on {engine.value}", spinner="dots") as status:
                return asyncio.run(
                    store_portraits_now(
                        Settings().async_database_url,
                        root,
                        chosen,
                        step=lambda text: status.update(text),
                    )
                )

        stored = _run(as_json, store_job)
        report["stored"] = stored.model_dump(mode="json")
        report.setdefault("engine", chosen.value)
        report["seconds"] = round(time.perf_counter() - started, 3)
    if as_json:
        typer.echo(json.dumps(report))
        return
    if out is not None:
        console.print(
            f"{report['consumers']} consumer portraits as of {report['as_of']} on "
            f"{report['engine']} -> {out}"
        )
    if store:
        console.print(
            f"stored run {stored.run_id}: {stored.new_files} new log file(s), "
            f"{stored.events} events, {stored.consumers} portraits stored "
            f"(as of {stored.as_of or 'unchanged'}) in {stored.seconds:.1f} s"
        )


async def store_portraits_now(
    database_url: str,
    root: Path,
    engine: PortraitEngineName,
    *,
    step: Callable[[str], None] | None = None,
) -> PortraitStoreReport:
    """One stored, incremental portrait run in its own unit of work (the command, the demo)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from livecart.core.db import build_engine
    from livecart.insights import portrait_store

    db = build_engine(database_url, pool_size=1)
    try:
        async with AsyncSession(db, expire_on_commit=False) as session:
            report = await portrait_store.store_portraits(
                session,
                root=root,
                engine=engine,
                now=SystemClock().now(),
                step=step or (lambda _text: None),
            )
            await session.commit()
            return report
    finally:
        await db.dispose()
