"""`livecart supervision ...`: compliance scanning of a text, and the rules in force."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from livecart.settings import Settings
from livecart.supervision.compliance import Lexicon, load_lexicon, scan
from livecart.supervision.errors import LexiconInvalid

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
