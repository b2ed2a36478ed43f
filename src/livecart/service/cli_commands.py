"""`livecart service topics`: consumer questions clustered into topics, as a table, JSON or a
Markdown product-feedback report for merchants."""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from livecart.core.errors import DomainError, InvalidInput

if TYPE_CHECKING:
    from livecart.service.topics import QuestionFile, Topic

# scikit-learn is imported inside the command (through topics.py), so other `livecart`
# commands start without paying for it.

app = typer.Typer(
    help="Customer service: consumer questions and what they are about.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)


class QuestionFormat(StrEnum):
    amazon_qa = "amazon-qa"


def _read(path: Path) -> QuestionFile:
    from livecart.service.topics import read_amazon_qa

    size = path.stat().st_size if path.is_file() else 0
    columns = (TextColumn("reading {task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TimeElapsedColumn(), console=errors, transient=True) as progress:
        task = progress.add_task(path.name, total=size)
        return read_amazon_qa(path, progress=lambda done: progress.advance(task, done))


def _report(source: QuestionFile, found: list[Topic], seconds: float) -> dict[str, Any]:
    return {
        "input": str(source.path),
        "lines": source.lines,
        "questions": len(source.questions),
        "bad_lines": [{"line": b.line, "reason": b.reason} for b in source.bad_lines],
        "topics": [t.to_dict() for t in found],
        "seconds": round(seconds, 2),
    }


def _products(topic: Topic) -> str:
    return ", ".join(f"{p['asin']} ({p['questions']})" for p in topic.top_products)


def _years(topic: Topic) -> str:
    return ", ".join(f"{year}: {n}" for year, n in topic.per_year.items())


def markdown_report(report: dict[str, Any], found: list[Topic]) -> str:
    """A product-feedback report: what consumers ask most, what the listings leave unclear."""
    from livecart.service.topics import UNCLASSIFIED

    lines = [
        "# What consumers ask: question topics",
        "",
        f"Source: `{report['input']}`: {report['questions']:,} questions "
        f"({len(report['bad_lines'])} unreadable line(s) left out), "
        f"grouped into {sum(t.label != UNCLASSIFIED for t in found)} topics in "
        f"{report['seconds']} s"
        + (
            f"; {unclassified[0].size} question(s) without a content word are listed last."
            if (unclassified := [t for t in found if t.label == UNCLASSIFIED])
            else "."
        ),
        "",
        "Each topic is a kind of question consumers keep asking. A large topic is something "
        "the product pages do not answer clearly enough: put the answer into the listing "
        "(title, specifications, compatibility list, knowledge card) where the topic names "
        "your product.",
        "",
        "| # | topic | questions | share |",
        "|---|---|---|---|",
    ]
    for number, topic in enumerate(found, start=1):
        lines.append(f"| {number} | {topic.label} | {topic.size:,} | {topic.share:.1%} |")
    for number, topic in enumerate(found, start=1):
        lines += [
            "",
            f"## {number}. {topic.label}",
            "",
            f"{topic.size:,} questions ({topic.share:.1%} of all).",
            "",
            f"- Keywords: {', '.join(topic.keywords) or '-'}",
            f"- Products asked about most: {_products(topic) or '-'}",
            f"- Questions per year: {_years(topic) or '-'}",
            "- Typical questions:",
        ]
        lines += [f"  - \u201c{text}\u201d" for text in topic.examples]
    if report["bad_lines"]:
        lines += ["", "## Unreadable lines", ""]
        lines += [f"- line {b['line']}: {b['reason']}" for b in report["bad_lines"]]
    return "\n".join(lines) + "\n"


def _table(report: dict[str, Any], found: list[Topic]) -> Table:
    table = Table(
        "#",
        "topic",
        "questions",
        "share",
        "example questions",
        "top products",
        title=f"{report['questions']:,} questions in {Path(report['input']).name}",
        show_lines=True,
    )
    for number, topic in enumerate(found, start=1):
        table.add_row(
            str(number),
            topic.label,
            f"{topic.size:,}",
            f"{topic.share:.1%}",
            "\n".join(topic.examples),
            _products(topic),
        )
    return table


@app.command("topics")
def topics(
    input_file: Annotated[
        Path, typer.Option("--input", help="The questions file.", dir_okay=False)
    ],
    file_format: Annotated[
        QuestionFormat, typer.Option("--format", help="Layout of the questions file.")
    ] = QuestionFormat.amazon_qa,
    count: Annotated[
        int, typer.Option("--topics", min=1, max=200, help="How many topics to find.")
    ] = 12,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Also write a Markdown report for merchants here.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Cluster consumer questions into topics: keywords, examples, products and trend."""
    started = time.perf_counter()
    try:
        from livecart.service.topics import find_topics

        source = _read(input_file)
        with errors.status("finding topics", spinner="dots"):
            found = find_topics(source.questions, topics=count)
        report = _report(source, found, time.perf_counter() - started)
        if out is not None:
            out.write_text(markdown_report(report, found), encoding="utf-8")
    except DomainError as exc:
        failure: DomainError = exc
    except OSError as exc:
        failure = InvalidInput(f"{exc.filename}: {exc.strerror}", code="file_unreadable")
    else:
        if source.bad_lines:
            errors.print(
                f"[yellow]{len(source.bad_lines)} unreadable line(s) left out[/yellow]: "
                + "; ".join(f"line {b.line}: {b.reason}" for b in source.bad_lines[:5]),
                soft_wrap=True,
            )
        if as_json:
            typer.echo(json.dumps(report, ensure_ascii=False))
        else:
            console.print(_table(report, found))
            console.print(f"{report['seconds']} s")
        return
    if as_json:
        typer.echo(json.dumps(failure.to_dict()))
    errors.print(f"[red]error[/red] ({failure.code}): {failure.message}", soft_wrap=True)
    raise typer.Exit(2)


async def _scores(database_url: str, brand_id: int | None) -> list[dict[str, Any]]:
    from sqlalchemy.ext.asyncio import AsyncSession

    from livecart.core.clock import SystemClock
    from livecart.core.db import build_engine
    from livecart.service import service

    engine = build_engine(database_url)
    try:
        async with AsyncSession(engine) as session:
            now = SystemClock().now()
            if brand_id is not None:
                wanted: list[int | None] = [brand_id]
            else:
                wanted = [None, *await service.brands_with_service(session)]
            return [
                (await service.service_score(session, brand_id=b, now=now)).model_dump(mode="json")
                for b in wanted
            ]
    finally:
        await engine.dispose()


def _score_text(score: float | None) -> str:
    return "—" if score is None else f"{score:.1f}"


@app.command("scores")
def scores(
    brand: Annotated[
        int | None,
        typer.Option("--brand", help="One brand's score (default: platform and every brand)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Service scores: first response, resolution, satisfaction (docs/service.md)."""
    import asyncio

    from livecart.settings import Settings

    found = asyncio.run(_scores(Settings().async_database_url, brand))
    if as_json:
        typer.echo(json.dumps(found if brand is None else found[0], ensure_ascii=False))
        return
    table = Table("brand", "score", "questions", "in time", "tickets", "resolved", "satisfaction")
    for row in found:
        table.add_row(
            "platform" if row["brand_id"] is None else str(row["brand_id"]),
            _score_text(row["score"]),
            str(row["questions"]),
            str(row["questions_answered_in_time"]),
            str(row["tickets"]),
            str(row["tickets_resolved"]),
            _score_text(row["mean_satisfaction"]),
        )
    console.print(table)
