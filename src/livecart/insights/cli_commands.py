"""`livecart insights clv ...`: BG/NBD and Gamma-Gamma fits, scores and the holdout check."""

from __future__ import annotations

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

from livecart.core.errors import DomainError, InvalidInput, NotFound
from livecart.insights.errors import InvalidInputFile
from livecart.insights.schemas import HoldoutReport, InputReport, ScoreReport

if TYPE_CHECKING:
    from livecart.insights.transactions import Layout, TransactionLog

# The model code (numpy, SciPy, matplotlib) is imported inside the commands: every other
# `livecart` command, `serve` included, starts without paying for it.

app = typer.Typer(help="Consumer insights: customer-base models and reports.", no_args_is_help=True)
clv_app = typer.Typer(
    help="Customer lifetime value: BG/NBD purchases and dropout, Gamma-Gamma spend.",
    no_args_is_help=True,
)
app.add_typer(clv_app, name="clv")
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
    # 2 for input the user can fix (like a usage error), 1 for a model that could not be fitted.
    raise typer.Exit(2 if isinstance(failure, InvalidInput | NotFound) else 1)


@contextmanager
def _step(text: str) -> Iterator[None]:
    with errors.status(text, spinner="dots"):
        yield


def _read(path: Path, layout: Layout, skip_bad_lines: bool) -> tuple[TransactionLog, InputReport]:
    from livecart.insights import service

    size = path.stat().st_size if path.is_file() else 0
    columns = (TextColumn("reading {task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TimeElapsedColumn(), console=errors, transient=True) as progress:
        task = progress.add_task(path.name, total=size)
        log, report = service.read_log(
            path,
            layout=layout,
            skip_bad_lines=skip_bad_lines,
            progress=lambda done: progress.advance(task, done),
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


class PortraitEngine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


@app.command("portraits")
def portraits(
    events: Annotated[
        Path, typer.Option("--events", help="The behaviour-event log (its root folder).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.", dir_okay=False)],
    engine: Annotated[
        PortraitEngine, typer.Option("--engine", help="duckdb (in process) or spark (local).")
    ] = PortraitEngine.duckdb,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Last day counted (UTC) and the day recency is measured from; default: the "
            "day of the latest event.",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Consumer portraits from the event log, one row per consumer, on DuckDB or Spark."""
    import time

    from livecart.insights import portraits as pipeline

    started = time.perf_counter()

    def job() -> pipeline.PortraitRun:
        with errors.status(f"portraits on {engine.value}", spinner="dots") as status:
            run = pipeline.run(
                pipeline.Engine(engine.value),
                events,
                as_of=_day(as_of),
                step=lambda text: status.update(text),
            )
            status.update(f"writing {out}")
            pipeline.write(run, out)
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
    if as_json:
        typer.echo(json.dumps(report))
    else:
        console.print(
            f"{report['consumers']} consumer portraits as of {report['as_of']} on "
            f"{report['engine']} in {report['seconds']} s -> {out}"
        )
