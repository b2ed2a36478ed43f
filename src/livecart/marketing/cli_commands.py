"""`livecart marketing ...`: segments (list, count, export), the stage job, campaigns (list, run,
measure, report); each job is its own unit of work, each report has --json."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from livecart.accounts.schemas import Identity, Role
from livecart.core.clock import SystemClock
from livecart.core.db import UnitOfWork, run_in_unit_of_work
from livecart.core.errors import DomainError
from livecart.settings import Settings

if TYPE_CHECKING:
    from livecart.marketing.delivery import Outbox

T = TypeVar("T")

app = typer.Typer(help="Segments, stage tracks and campaigns with holdouts.", no_args_is_help=True)
segments_app = typer.Typer(help="Saved segments over portraits.", no_args_is_help=True)
stages_app = typer.Typer(help="Stage tracks (lifecycle, per brand).", no_args_is_help=True)
campaigns_app = typer.Typer(help="Campaigns, their holdouts and uplift.", no_args_is_help=True)
app.add_typer(segments_app, name="segments")
app.add_typer(stages_app, name="stages")
app.add_typer(campaigns_app, name="campaigns")
emails_app = typer.Typer(help="The e-mail outbox (SMTP).", no_args_is_help=True)
app.add_typer(emails_app, name="emails")
console = Console()
errors = Console(stderr=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
# The command line acts as the platform: an operator identity that is no user row.
COMMAND_LINE = Identity(
    id=0,
    email="command-line@livecart.invalid",
    display_name="livecart command line",
    roles=frozenset({Role.operator}),
)


def _in_unit_of_work(job: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run one job in one unit of work on the configured database; domain errors exit 1."""
    try:
        return run_in_unit_of_work(Settings().async_database_url, job)
    except DomainError as exc:
        errors.print(f"[red]error:[/red] {exc.code}: {exc.message} {exc.details or ''}")
        raise typer.Exit(1) from exc


def _echo(value: Any) -> None:
    if isinstance(value, list):
        typer.echo(json.dumps([v.model_dump(mode="json") for v in value]))
    else:
        typer.echo(json.dumps(value.model_dump(mode="json")))


def _outbox(uow: UnitOfWork, settings: Settings) -> Outbox | None:
    """The e-mail outbox of a command (its rounds in units of work beside `uow`), or None
    without LIVECART_SMTP_HOST."""
    from livecart.core.security import resolve_secret
    from livecart.marketing.delivery import Outbox
    from livecart.marketing.mail import mailer_from

    mailer = mailer_from(settings)
    if mailer is None:
        return None
    secret = resolve_secret(settings.secret_key, settings.data_dir)
    return Outbox(uow.fresh, mailer, SystemClock(), secret=secret, base_url=settings.base_url)


# ---------------------------------------------------------------- segments


@segments_app.command("list")
def segments_list(as_json: AsJson = False) -> None:
    """Saved segments with their sizes now."""
    from livecart.marketing import service

    segments = _in_unit_of_work(lambda uow: service.list_segments(uow.session, actor=COMMAND_LINE))
    if as_json:
        _echo(segments)
        return
    table = Table("id", "name", "consumers", "rule")
    for s in segments:
        table.add_row(str(s.id), s.name, str(s.size), json.dumps(s.rule))
    console.print(table)


@segments_app.command("count")
def segments_count(
    rule: Annotated[
        str | None, typer.Option(help='A rule as JSON, e.g. {"all": [{"field": ...}]}.')
    ] = None,
    segment: Annotated[int | None, typer.Option(help="A saved segment's id.")] = None,
    as_json: AsJson = False,
) -> None:
    """Count the consumers a rule (or a saved segment) matches now."""
    from livecart.marketing import service
    from livecart.marketing.errors import InvalidRule

    if (rule is None) == (segment is None):
        errors.print("[red]error:[/red] give --rule or --segment")
        raise typer.Exit(2)

    async def job(uow: UnitOfWork) -> int:
        if segment is not None:
            found = await service.get_segment(uow.session, actor=COMMAND_LINE, segment_id=segment)
            return found.size or 0
        assert rule is not None
        try:
            data = json.loads(rule)
        except json.JSONDecodeError as exc:
            raise InvalidRule("the rule is not JSON", details={"reason": str(exc)}) from exc
        counted = await service.count_rule(
            uow.session, actor=COMMAND_LINE, rule=service.rule_of(data)
        )
        return counted.count

    count = _in_unit_of_work(job)
    if as_json:
        typer.echo(json.dumps({"count": count}))
    else:
        console.print(f"{count} consumers")


@segments_app.command("export")
def segments_export(
    segment: Annotated[int, typer.Option(help="The saved segment's id.")],
    out: Annotated[Path | None, typer.Option(help="CSV file (default: standard output).")] = None,
) -> None:
    """A segment's members as CSV: user id and scores (no names, no e-mails)."""
    from livecart.marketing import service

    text = _in_unit_of_work(
        lambda uow: service.export_segment_csv(uow.session, actor=COMMAND_LINE, segment_id=segment)
    )
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        errors.print(f"{text.count(chr(10)) - 1} consumers -> {out}")


# ---------------------------------------------------------------- stages


@stages_app.command("run")
def stages_run(as_json: AsJson = False) -> None:
    """Move consumers between stages by the rules now; every move is recorded."""
    from livecart.marketing import service

    async def job(uow: UnitOfWork) -> Any:
        with errors.status("placing consumers on stage tracks", spinner="dots"):
            out = await service.run_stages(uow.session, clock=SystemClock())
        await uow.commit()
        return out

    out = _in_unit_of_work(job)
    if as_json:
        _echo(out)
    else:
        console.print(
            f"{out.consumers} consumers on {out.tracks} track(s), {out.moves} move(s) recorded"
        )


# ---------------------------------------------------------------- campaigns


@campaigns_app.command("list")
def campaigns_list(as_json: AsJson = False) -> None:
    """Campaigns, newest first."""
    from livecart.marketing import service

    campaigns = _in_unit_of_work(
        lambda uow: service.list_campaigns(uow.session, actor=COMMAND_LINE)
    )
    if as_json:
        _echo(campaigns)
        return
    table = Table("id", "name", "action", "status", "holdout %", "sent at", "e-mails")
    for c in campaigns:
        table.add_row(
            str(c.id),
            c.name,
            c.action.value,
            c.status.value,
            str(c.holdout_percent),
            str(c.sent_at or ""),
            _statuses(c.emails_by_status) if c.emails_by_status else "",
        )
    console.print(table)


@campaigns_app.command("run")
def campaigns_run(
    campaign: Annotated[int, typer.Argument(help="The draft campaign's id.")],
    as_json: AsJson = False,
) -> None:
    """Send a draft campaign once, keeping its holdout; opted-out consumers get nothing."""
    from livecart.marketing import service

    settings = Settings()

    async def job(uow: UnitOfWork) -> Any:
        out = await service.run_campaign(
            uow,
            clock=SystemClock(),
            actor=COMMAND_LINE,
            campaign_id=campaign,
            outbox=_outbox(uow, settings),
            base_url=settings.base_url,
        )
        await uow.commit()  # e-mails go out after this
        return out

    out = _in_unit_of_work(job)
    if as_json:
        _echo(out)
        return
    console.print(
        f"campaign {out.campaign_id}: audience {out.audience}, {out.opted_out} opted out, "
        f"{out.treated} treated, {out.holdout} in the holdout, {out.emails} e-mail(s)"
    )
    if out.emails:
        sent = _in_unit_of_work(
            lambda uow: service.get_campaign(uow.session, actor=COMMAND_LINE, campaign_id=campaign)
        )
        console.print(f"e-mails by status: {_statuses(sent.emails_by_status)}")


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"


@emails_app.command("deliver")
def emails_deliver(
    campaign: Annotated[
        int | None, typer.Option(help="Only this campaign's e-mails (default: all).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Send the queued e-mails that are due now: those a mail server did not take yet are
    tried again later, up to 6 times (the server's e-mail job does this every minute)."""
    from livecart.marketing import service

    settings = Settings()

    async def job(uow: UnitOfWork) -> Any:
        outbox = _outbox(uow, settings)
        return await service.deliver_emails(actor=COMMAND_LINE, outbox=outbox, campaign_id=campaign)

    out = _in_unit_of_work(job)
    if as_json:
        _echo(out)
    else:
        console.print(
            f"e-mails: {out.sent} sent, {out.failed} failed, {out.retrying} to try again, "
            f"{out.cancelled} cancelled"
        )


@campaigns_app.command("measure")
def campaigns_measure(
    campaign: Annotated[int, typer.Argument(help="The sent campaign's id.")],
    as_json: AsJson = False,
) -> None:
    """Read the outcomes from the behaviour-event log, store them, print the report."""
    from livecart.marketing import service

    settings = Settings()

    async def job(uow: UnitOfWork) -> Any:
        with errors.status("reading payments from the event log", spinner="dots"):
            out = await service.measure_campaign(
                uow.session,
                clock=SystemClock(),
                actor=COMMAND_LINE,
                campaign_id=campaign,
                event_log_dir=settings.event_log_dir,
            )
        await uow.commit()
        return out

    _print_report(_in_unit_of_work(job), as_json)


@campaigns_app.command("report")
def campaigns_report(
    campaign: Annotated[int, typer.Argument(help="The campaign's id.")],
    as_json: AsJson = False,
) -> None:
    """Treated versus holdout: conversion and GMV per consumer, uplift with 95% intervals."""
    from livecart.marketing import service

    report = _in_unit_of_work(
        lambda uow: service.campaign_report(uow.session, actor=COMMAND_LINE, campaign_id=campaign)
    )
    _print_report(report, as_json)


def _fmt(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        _echo(report)
        return
    console.print(f"[bold]{report.name}[/bold] ({report.status.value}; {report.note or ''})")
    table = Table("arm", "consumers", "converted", "conversion %", "GMV", "GMV per consumer")
    for arm in report.arms:
        table.add_row(
            arm.arm.value,
            str(arm.consumers),
            str(arm.converted),
            _fmt(arm.conversion_rate, 100),
            f"{arm.gmv / 100:.2f} {report.currency}",
            _fmt(arm.gmv_per_consumer, 0.01),
        )
    console.print(table)
    c, g = report.conversion_uplift, report.gmv_uplift
    console.print(
        f"conversion uplift {_fmt(c.estimate, 100)} points, 95% CI "
        f"[{_fmt(c.low, 100)}, {_fmt(c.high, 100)}] ({c.method})"
    )
    console.print(
        f"GMV per consumer uplift {_fmt(g.estimate, 0.01)} {report.currency}, 95% CI "
        f"[{_fmt(g.low, 0.01)}, {_fmt(g.high, 0.01)}] ({g.method})"
    )
