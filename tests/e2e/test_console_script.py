"""The anchor script panel of the console in Chromium: a script with an absolute term is
refused with the rule shown on its line and nothing is saved; fixed, it saves with the
remaining warn-only hit in amber, and the saved script comes back on reload."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, expect

from livecart.accounts import service as accounts
from livecart.bootstrap import Container
from livecart.live import service as live
from livecart.live.schemas import ScriptOut
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.e2e.world import build_world

BLOCKED = (
    "大家好，欢迎来到直播间！今天给大家介绍茉莉龙珠。\n"
    "This jasmine tea is the best tea in the world, and a perfect gift.\n"
    "每泡三克，水温八十五度。"
)
FIXED = BLOCKED.replace("the best tea in the world", "a fragrant green tea from Fujian")


def _stored(server: LiveServer, session_id: int, reader_id: int) -> ScriptOut:
    async def read(container: Container) -> ScriptOut:
        async with container.uow() as uow:
            reader = await accounts.load_identity(uow.session, reader_id)
            assert reader is not None
            return await live.get_script(uow.session, actor=reader, session_id=session_id)

    return on_server_db(server, read)


def test_anchor_sees_the_blocking_rule_fixes_the_script_and_saves_it(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    console = new_context(viewport={"width": 1360, "height": 1000}).new_page()
    login(console, live_server, world.anchor_id, f"/console/sessions/{world.session_id}")
    panel = console.locator("[data-testid=script-panel]")
    expect(panel).to_have_attribute("data-ready", "true")
    expect(panel.locator("[data-testid=script-meta]")).to_have_text("not written yet")
    text = panel.locator("[data-testid=script-text]")
    status = panel.locator("[data-testid=script-status]")
    hits = panel.locator("[data-testid=script-hit]")

    text.fill(BLOCKED)
    panel.locator("[data-testid=script-save]").click()
    expect(status).to_have_attribute("data-state", "blocked")
    expect(status).to_contain_text("Not saved")
    expect(status).to_contain_text("absolute_terms")
    blocking = hits.and_(panel.locator("[data-action=block]"))
    expect(blocking).to_have_count(1)
    expect(blocking).to_have_attribute("data-rule", "absolute_terms")
    expect(blocking).to_have_attribute("data-line", "2")
    expect(blocking.locator(".where")).to_have_text("line 2:21")
    expect(blocking.locator("mark")).to_have_text("the best")
    expect(blocking).to_contain_text("Advertising Law")
    warning = hits.and_(panel.locator("[data-action=warn]"))
    expect(warning).to_have_attribute("data-rule", "superlative_claims")
    expect(warning.locator("mark")).to_have_text("perfect")
    assert _stored(live_server, world.session_id, world.operator_id).version == 0

    # Clicking the hit selects its words in the script.
    blocking.click()
    start = BLOCKED.index("the best")
    selected = text.evaluate("node => [node.selectionStart, node.selectionEnd]")
    assert selected == [start, start + len("the best")]
    panel.evaluate("node => node.scrollIntoView()")
    screenshot(console, "console-script.png")

    text.fill(FIXED)
    expect(panel.locator("[data-testid=script-hits]")).to_have_class("script-hits stale")
    panel.locator("[data-testid=script-save]").click()
    expect(status).to_have_attribute("data-state", "warned")
    expect(status).to_contain_text("Saved (version 1) with 1 warning")
    expect(hits).to_have_count(1)
    expect(hits).to_have_attribute("data-rule", "superlative_claims")
    expect(panel.locator("[data-testid=script-meta]")).to_contain_text(
        "version 1 · saved by Mia Live"
    )

    stored = _stored(live_server, world.session_id, world.operator_id)
    assert (stored.version, stored.text) == (1, FIXED)
    assert [(w.rule_id, w.text, w.line) for w in stored.compliance_warnings] == [
        ("superlative_claims", "perfect", 2)
    ]

    console.reload()
    expect(panel).to_have_attribute("data-ready", "true")
    expect(text).to_have_value(FIXED)
    expect(hits).to_have_count(1)
    expect(panel.locator("[data-testid=script-meta]")).to_contain_text("version 1")


def test_an_operator_reads_the_script_in_the_console_without_editing_it(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)

    async def write(container: Container) -> None:
        async with container.uow() as uow:
            anchor = await accounts.load_identity(uow.session, world.anchor_id)
            assert anchor is not None
            await live.save_script(
                uow.session,
                clock=container.clock,
                lexicon=container.lexicon,
                actor=anchor,
                session_id=world.session_id,
                text="\n  Opening: greet the room.\nThen the tea.",
            )
            await uow.commit()

    on_server_db(live_server, write)
    page = new_context().new_page()
    login(page, live_server, world.operator_id, f"/console/sessions/{world.session_id}")
    panel = page.locator("[data-testid=script-panel]")
    expect(panel).to_have_attribute("data-ready", "true")
    expect(panel).to_have_attribute("data-editable", "false")
    text = panel.locator("[data-testid=script-text]")
    expect(text).to_have_value("\n  Opening: greet the room.\nThen the tea.")  # kept exactly
    expect(text).not_to_be_editable()
    expect(panel.locator("[data-testid=script-save]")).to_have_count(0)
