"""`livecart supervision ...`: compliance scanning of a text, and the rules in force;
`livecart risk ...`: risk scores and the bot-like activity detector."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from livecart.core.clock import SystemClock
from livecart.core.db import UnitOfWork, run_in_unit_of_work
from livecart.settings import Settings
from livecart.supervision.compliance import Lexicon, load_lexicon, scan
from livecart.supervision.errors import LexiconInvalid
from livecart.supervision.risk_schemas import RiskScoreOut, RiskSubject

T = TypeVar("T")

app = typer.Typer(help="Supervision: compliance scanning.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


class Kind(StrEnum):
    """The scanner's kinds of text, as an Enum so that Typer lists the choices."""

    product_title = "product_title"
    product_description = "product_description"
    anchor_script = "anchor_script"
    flash_sale_banner = "flash_sale_banner"
    chat = "chat"


LexiconPath = Annotated[
    Path | None,
    typer.Option(
        "--lexicon",
        help="A JSON lexicon file (default: LIVECART_COMPLIANCE_LEXICON, else the packaged one).",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _lexicon(path: Path | None) -> Lexicon:
    try:
        return load_lexicon(path if path is not None else Settings().compliance_lexicon)
    except LexiconInvalid as exc:
        errors.print(f"[red]{exc.message}[/red]", soft_wrap=True)
        raise typer.Exit(2) from exc


def _input_text(text: str | None, file: Path | None) -> str:
    if (text is None) == (file is None):
        raise typer.BadParameter("give the text or --file FILE (- for standard input), not both")
    if file is None:
        assert text is not None
        return text
    if str(file) == "-":
        return sys.stdin.read()
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc}", param_hint="--file") from exc


@app.command("scan")
def scan_command(
    text: Annotated[str | None, typer.Argument(help="The text to check.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read the text from this file (- for stdin).")
    ] = None,
    kind: Annotated[Kind, typer.Option(help="What the text is.")] = Kind.chat,
    lexicon: LexiconPath = None,
    as_json: AsJson = False,
) -> None:
    """Check a text against the compliance rules; exit code 1 when a blocking rule hits."""
    content = _input_text(text, file)
    result = scan(content, kind=kind.value, lexicon=_lexicon(lexicon))
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False))
    elif not result.hits:
        console.print("[green]clean[/green]: no rule hits")
    else:
        table = Table("rule", "action", "text", "at", "law cited", title=kind.value)
        for hit in result.hits:
            colour = "red" if hit.action == "block" else "yellow"
            table.add_row(
                hit.rule_id,
                f"[{colour}]{hit.action}[/{colour}]",
                hit.text,
                f"{hit.start}-{hit.end}",
                # The citation; `livecart supervision rules` prints the reasons in full.
                hit.reason.split(":", 1)[0],
            )
        console.print(table)
        verdict = "[red]blocked[/red]" if result.blocked else "[yellow]warnings only[/yellow]"
        console.print(f"{verdict}: {len(result.hits)} hit(s)")
    if result.blocked:
        raise typer.Exit(1)


@app.command("rules")
def rules_command(lexicon: LexiconPath = None, as_json: AsJson = False) -> None:
    """The compliance rules in force: id, action, languages, kinds and reason."""
    loaded = _lexicon(lexicon)
    if as_json:
        rows = [rule.model_dump(mode="json") for rule in loaded.rules]
        typer.echo(json.dumps({"source": loaded.source, "rules": rows}, ensure_ascii=False))
        return
    table = Table("rule", "action", "languages", "kinds", "reason", title=loaded.source)
    for rule in loaded.rules:
        kinds = ", ".join(rule.kinds) if rule.kinds is not None else "all"
        table.add_row(rule.id, rule.action, ", ".join(rule.languages), kinds, rule.reason)
    console.print(table)


# ---------------------------------------------------------------- `livecart risk ...`

risk_app = typer.Typer(
    help="Risk scores of brands, products and anchors, and the bot-like activity detector.",
    no_args_is_help=True,
)


class RiskKind(StrEnum):
    """The subjects a risk score is kept for."""

    brand = "brand"
    product = "product"
    anchor = "anchor"


def _in_unit_of_work(job: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run one job in one unit of work on the configured database."""
    return run_in_unit_of_work(Settings().async_database_url, job)


@risk_app.command("scores")
def risk_scores_command(
    kind: Annotated[
        list[RiskKind] | None,
        typer.Option("--kind", help="brand, product or anchor (repeat it; default: all three)."),
    ] = None,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply", help="Act on the thresholds: warn subjects at level act (audited)."
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Every brand, product or anchor some risk signal names: score, level and what each
    signal contributed (weight x min(value / saturation, 1)), highest first."""
    from livecart.supervision import risk

    kinds: list[RiskSubject] = [one.value for one in dict.fromkeys(kind or list(RiskKind))]
    clock = SystemClock()

    async def job(uow: UnitOfWork) -> list[tuple[RiskScoreOut, str | None]]:
        found = await risk.score_and_act(uow.session, clock=clock, kinds=kinds, apply=apply)
        await uow.commit()
        return found

    results = _in_unit_of_work(job)
    scores = [score for score, _ in results]
    if as_json:
        rows = [
            score.model_dump(mode="json") | ({"action": action} if apply else {})
            for score, action in results
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for score, action in results:
        if action is not None:
            console.print(f"{score.subject_kind} {score.subject_id}: {action}")
    if not scores:
        console.print("no subject has a risk signal")
        return
    table = Table("subject", "score", "level", "contributions", title="risk scores (0-100)")
    for score in scores:
        parts = sorted(score.contributions, key=lambda c: -c.contribution)
        table.add_row(
            f"{score.subject_kind} {score.subject_id}",
            f"{score.score:.1f}",
            score.level,
            ", ".join(f"{c.signal} {c.contribution:.1f}" for c in parts if c.contribution),
        )
    console.print(table)


@risk_app.command("detect-bots")
def detect_bots_command(
    days: Annotated[int, typer.Option(min=1, help="Look back this many days.")] = 90,
    as_json: AsJson = False,
) -> None:
    """Find bot-like likes and viewers in the behaviour-event log and keep one finding per
    session and detector (the anchors' bot_activity signal)."""
    from livecart.supervision.risk_signals import detect_bot_activity

    clock = SystemClock()
    settings = Settings()

    async def job(uow: UnitOfWork) -> list[dict[str, Any]]:
        found = await detect_bot_activity(
            uow.session,
            event_log=settings.event_log_dir,
            clock=clock,
            since=clock.now() - timedelta(days=days),
        )
        await uow.commit()
        return found

    findings = _in_unit_of_work(job)
    if as_json:
        typer.echo(json.dumps(findings, default=str))
        return
    table = Table("session", "anchor", "detector", "accounts", "why", title="bot-like activity")
    for f in findings:
        table.add_row(
            str(f["session_id"]),
            str(f["anchor_id"]),
            f["detector"],
            str(f["accounts"]),
            f["detail"],
        )
    console.print(table)
