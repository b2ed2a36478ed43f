"""`livecart insights willbuy train|evaluate`: the live will-buy model from the event log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from livecart.core.clock import SystemClock
from livecart.core.errors import DomainError, InvalidInput, NotFound

if TYPE_CHECKING:
    from livecart.insights.willbuy import Evaluation

# Model code (numpy, DuckDB, scikit-learn) is imported inside the commands.

app = typer.Typer(
    help="The live will-buy model: P(a viewer orders later in the session).",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
EventsDir = Annotated[
    Path | None, typer.Option("--events", help="The behaviour-event log (its root folder).")
]
StepSeconds = Annotated[
    int, typer.Option("--step-seconds", min=10, help="Seconds between training cut-offs.")
]
ChartFile = Annotated[
    Path | None, typer.Option("--chart", help="Write the calibration chart here (.png).")
]


def _fail(as_json: bool, failure: DomainError) -> None:
    if as_json:
        typer.echo(json.dumps(failure.to_dict()))
    errors.print(f"[red]error[/red] ({failure.code}): {failure.message}", soft_wrap=True)
    raise typer.Exit(2 if isinstance(failure, InvalidInput | NotFound) else 1)


def _evaluate(
    events: Path | None, taobao: Path | None, step_seconds: int
) -> tuple[Evaluation, dict[str, Any]]:
    from livecart.insights import willbuy

    with errors.status("reading the log", spinner="dots") as status:
        if taobao is not None:
            from livecart.insights import willbuy_taobao

            status.update(f"sessionising {taobao.name}")
            built = willbuy_taobao.taobao_rows(willbuy_taobao.read_taobao(taobao))
            source = {
                "source": "taobao",
                "file": str(taobao),
                "events": built.events,
                "people": built.people,
                "sessions": built.sessions,
                "sessions_with_buy": built.sessions_with_buy,
            }
            evaluation = willbuy.evaluate(
                built.rows,
                names=willbuy_taobao.TAOBAO_FEATURES,
                step=lambda text: status.update(text),
            )
        else:
            assert events is not None
            status.update(f"building rows from {events}")
            rows = willbuy.training_rows(events, step_seconds=step_seconds)
            source = {"source": "events", "events_dir": str(events), "step_seconds": step_seconds}
            evaluation = willbuy.evaluate(rows, step=lambda text: status.update(text))
    return evaluation, source


def _print(report: dict[str, Any]) -> None:
    table = Table("figure", "value", title="will-buy model, later sessions (test)")
    for key in ("rows", "train_sessions", "test_sessions", "test_rows", "test_positives"):
        table.add_row(key.replace("_", " "), f"{report[key]:,}")
    for key in ("auc", "train_auc", "shuffled_label_auc", "base_rate", "mean_predicted", "brier"):
        table.add_row(key.replace("_", " "), f"{report[key]:.4f}")
    table.add_row("ece", f"{report['ece']:.4f}")
    for name in ("uncalibrated", "previous"):
        if report.get(name):
            before = report[name]
            table.add_row(
                f"{name}: auc / brier / ece",
                f"{before['auc']:.4f} / {before['brier']:.4f} / {before['ece']:.4f}",
            )
    console.print(table)
    console.print(
        "top features (AUC drop when shuffled): "
        + ", ".join(f"{f['feature']} {f['auc_drop']:.3f}" for f in report["top_features"])
    )


def _chart(evaluation: Evaluation, chart: Path | None, title: str) -> str | None:
    if chart is None:
        return None
    from livecart.insights.willbuy import draw_calibration_chart

    draw_calibration_chart(evaluation, chart, title)
    return str(chart)


@app.command("evaluate")
def evaluate(
    events: EventsDir = None,
    taobao: Annotated[
        Path | None,
        typer.Option(
            "--taobao", help="Evaluate on a Taobao UserBehavior CSV instead.", dir_okay=False
        ),
    ] = None,
    step_seconds: StepSeconds = 300,
    chart: ChartFile = None,
    as_json: AsJson = False,
) -> None:
    """Train on earlier sessions, measure on later ones; writes no model."""
    if (events is None) == (taobao is None):
        _fail(as_json, InvalidInput("give --events DIR or --taobao FILE", code="invalid_input"))
    try:
        evaluation, source = _evaluate(events, taobao, step_seconds)
    except DomainError as exc:
        _fail(as_json, exc)
        return
    title = f"will-buy, {'Taobao sample' if taobao else 'event log'}: later sessions"
    report = {**evaluation.report(), **source, "chart": _chart(evaluation, chart, title)}
    if as_json:
        typer.echo(json.dumps(report))
    else:
        _print(report)


@app.command("train")
def train(
    models_dir: Annotated[
        Path | None,
        typer.Option("--models-dir", help="Models folder (default: LIVECART_MODELS_DIR)."),
    ] = None,
    events: EventsDir = None,
    step_seconds: StepSeconds = 300,
    chart: ChartFile = None,
    as_json: AsJson = False,
) -> None:
    """Train, measure on later sessions and write the next version vN.joblib + vN.json."""
    from livecart.events.cli_commands import log_root
    from livecart.insights import willbuy, willbuy_store
    from livecart.settings import Settings

    settings = Settings()
    root = events or log_root(None)
    target = models_dir or settings.willbuy_models_root
    try:
        evaluation, source = _evaluate(root, None, step_seconds)
    except DomainError as exc:
        _fail(as_json, exc)
        return
    report = {**evaluation.report(), **source}
    metadata = {
        **report,
        "trained_at": SystemClock().now().isoformat(),
        "engines": willbuy.engine_versions(),
        "threshold": willbuy.LIKELY_THRESHOLD,
        "trained_on": "the earlier sessions of the time split (the model measured above)",
    }
    stored = willbuy_store.save(target, evaluation.model, metadata)
    report["version"] = stored.version
    report["model"] = str(willbuy_store.folder(target) / f"v{stored.version}.joblib")
    report["chart"] = _chart(evaluation, chart, "will-buy, event log: later sessions")
    if as_json:
        typer.echo(json.dumps(report))
    else:
        _print(report)
        console.print(f"wrote version {stored.version}: {report['model']}")
