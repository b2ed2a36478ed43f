"""`livecart marketing ...` from the command line on a migrated SQLite database."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Role
from livecart.bootstrap import build_container, running
from livecart.cli import app
from livecart.insights.portrait_query import parse_rule
from livecart.marketing import service as marketing
from livecart.marketing.schemas import Action, CampaignIn, SegmentIn
from livecart.settings import Settings
from tests.conftest import free_port
from tests.integration.test_marketing import BEAUTY_RULE, Inbox, store_portrait
from tests.support import make_user

runner = CliRunner()


async def _world(settings: Settings) -> dict[str, int]:
    async with running(build_container(settings)) as container:
        operator_id = await make_user(container, Role.operator)
        people = [await make_user(container) for _ in range(12)]
        for i, uid in enumerate(people):
            await store_portrait(container, uid, beauty=0.9 if i < 8 else 0.2, expected=0.5)
        async with container.uow() as uow:
            quitter = await accounts.load_identity(uow.session, people[0])
            assert quitter is not None
            await accounts.set_personalisation(uow.session, actor=quitter, allowed=False)
            operator = await accounts.load_identity(uow.session, operator_id)
            assert operator is not None
            segment = await marketing.create_segment(
                uow.session,
                clock=container.clock,
                actor=operator,
                data=SegmentIn(name="beauty", rule=parse_rule(BEAUTY_RULE)),
            )
            campaign = await marketing.create_campaign(
                uow.session,
                clock=container.clock,
                actor=operator,
                data=CampaignIn(
                    name="hello",
                    action=Action.in_app,
                    segment_id=segment.id,
                    subject="hello",
                    holdout_percent=25,
                ),
            )
            mail = await marketing.create_campaign(
                uow.session,
                clock=container.clock,
                actor=operator,
                data=CampaignIn(
                    name="hello by e-mail",
                    action=Action.email,
                    segment_id=segment.id,
                    subject="hello",
                    holdout_percent=25,
                ),
            )
            await uow.commit()
        return {
            "segment": segment.id,
            "campaign": campaign.id,
            "mail": mail.id,
            "opted_out": people[0],
        }


def test_marketing_commands_report_json(tmp_path: Path) -> None:
    env = {"LIVECART_DATA_DIR": str(tmp_path / "var"), "LIVECART_DATABASE_URL": None}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    settings = Settings(data_dir=tmp_path / "var", database_url=None)
    made = asyncio.run(_world(settings))

    result = runner.invoke(app, ["marketing", "segments", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    (segment,) = json.loads(result.stdout)
    assert segment["size"] == 8

    rule = json.dumps({"all": [{"field": "expected_purchases_30d", "op": ">=", "value": 0.5}]})
    result = runner.invoke(
        app, ["marketing", "segments", "count", "--rule", rule, "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"count": 12}
    bad = runner.invoke(
        app, ["marketing", "segments", "count", "--rule", '{"all": [{"field": "x"}]}'], env=env
    )
    assert bad.exit_code == 1 and "invalid_segment_rule" in bad.output

    out = tmp_path / "segment.csv"
    result = runner.invoke(
        app,
        ["marketing", "segments", "export", "--segment", str(made["segment"]), "--out", str(out)],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(io.StringIO(out.read_text())))) == 8

    result = runner.invoke(app, ["marketing", "stages", "run", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["consumers"] == 12

    campaign = str(made["campaign"])
    result = runner.invoke(app, ["marketing", "campaigns", "run", campaign, "--json"], env=env)
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["audience"] == 8 and run["opted_out"] == 1
    assert run["treated"] + run["holdout"] == 7
    result = runner.invoke(app, ["marketing", "campaigns", "run", campaign], env=env)
    assert result.exit_code == 1 and "campaign_already_sent" in result.output

    result = runner.invoke(app, ["marketing", "campaigns", "report", campaign, "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [a["consumers"] for a in report["arms"]] == [run["treated"], run["holdout"]]
    assert report["conversion_uplift"]["estimate"] is None  # not measured yet
    result = runner.invoke(app, ["marketing", "campaigns", "measure", campaign, "--json"], env=env)
    assert result.exit_code == 0, result.output
    measured = json.loads(result.stdout)
    assert measured["status"] == "measured" and measured["outcome_source"] == "events"
    assert measured["conversion_uplift"]["estimate"] == 0.0  # nobody paid: an empty log


def test_email_campaign_and_outbox_from_the_command_line(tmp_path: Path) -> None:
    env = {"LIVECART_DATA_DIR": str(tmp_path / "var"), "LIVECART_DATABASE_URL": None}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    made = asyncio.run(_world(Settings(data_dir=tmp_path / "var", database_url=None)))
    mail = str(made["mail"])

    # Without SMTP settings, e-mail is refused, with its code.
    result = runner.invoke(app, ["marketing", "campaigns", "run", mail], env=env)
    assert result.exit_code == 1 and "smtp_not_configured" in result.output
    result = runner.invoke(app, ["marketing", "emails", "deliver"], env=env)
    assert result.exit_code == 1 and "smtp_not_configured" in result.output

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = env | {"LIVECART_SMTP_HOST": "127.0.0.1", "LIVECART_SMTP_PORT": str(port)}
        result = runner.invoke(app, ["marketing", "campaigns", "run", mail], env=smtp)
        assert result.exit_code == 0, result.output
        treated = int(result.output.split(" treated")[0].rsplit(" ", 1)[1])
        assert 0 < treated < 7
        assert f"e-mails by status: {treated} sent" in result.output
        assert len(inbox.mails) == treated

        result = runner.invoke(app, ["marketing", "campaigns", "list", "--json"], env=smtp)
        assert result.exit_code == 0, result.output
        by_id = {c["id"]: c for c in json.loads(result.stdout)}
        assert by_id[made["mail"]]["emails_by_status"] == {"sent": treated}
        assert by_id[made["campaign"]]["emails_by_status"] == {}

        # Nothing is due: a round sends nothing more.
        result = runner.invoke(app, ["marketing", "emails", "deliver", "--json"], env=smtp)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"sent": 0, "failed": 0, "retrying": 0, "cancelled": 0}
        assert len(inbox.mails) == treated
    finally:
        controller.stop()
