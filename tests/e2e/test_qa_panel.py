"""Questions asked in chat, in English and in Chinese, reach the anchor's Q&A panel in Chromium
with a suggested answer taken from the product's knowledge card."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, Page, expect

from livecart.bootstrap import Container
from livecart.catalog import service as catalog
from livecart.catalog.schemas import KnowledgeCardOut
from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db, screenshot
from tests.e2e.world import build_world


def _card(server: LiveServer, product_id: int) -> KnowledgeCardOut:
    async def read(container: Container) -> KnowledgeCardOut:
        async with container.uow() as uow:
            card = await catalog.get_knowledge_card(
                uow.session,
                clock=container.clock,
                lexicon=container.lexicon,
                actor=None,
                product_id=product_id,
            )
            await uow.commit()
            return card

    return on_server_db(server, read)


def _ask(page: Page, text: str) -> None:
    expect(page.locator("#chat-input")).to_be_enabled()
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")
    expect(page.locator("[data-testid=chat]")).to_contain_text(text)


def test_english_and_chinese_questions_reach_the_qa_panel_with_card_answers(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    card = _card(live_server, world.product_id)
    answers = {faq.question: faq.answer for faq in card.faqs}
    console = new_context(viewport={"width": 1360, "height": 1000}).new_page()
    login(console, live_server, world.anchor_id, f"/console/sessions/{world.session_id}")
    panel = console.locator("[data-testid=qa-panel]")
    expect(panel).to_have_attribute("data-socket", "open")
    expect(console.locator(f"[data-testid=knowledge-card-{world.product_id}]")).to_contain_text(
        "Compliance notes"
    )

    alice = new_context().new_page()
    login(alice, live_server, world.alice_id, f"/live/{world.session_id}")
    bob = new_context().new_page()
    login(bob, live_server, world.bob_id, f"/live/{world.session_id}")
    _ask(alice, "How much is the jasmine tea?")
    _ask(bob, "这个茶多少钱？")
    _ask(bob, "so pretty")  # not a question: never queued

    items = panel.locator(".qa-item")
    expect(items).to_have_count(2, timeout=60_000)  # the first suggestion loads scikit-learn
    english = panel.locator(".qa-item", has_text="How much is the jasmine tea?")
    chinese = panel.locator(".qa-item", has_text="这个茶多少钱？")
    expect(english.locator(".qa-answer")).to_have_value(answers["How much is it?"])
    expect(chinese.locator(".qa-answer")).to_have_value(answers["多少钱？"])
    for item in (english, chinese):
        expect(item.locator(".qa-suggestion")).to_contain_text("knowledge card")
    expect(panel.locator("[data-testid=qa-count]")).to_have_text("2 open")
    console.locator("[data-testid=service-console]").evaluate("node => node.scrollIntoView()")
    screenshot(console, "qa-panel.png")

    english.get_by_role("button", name="Answer in chat").click()
    expect(alice.locator("[data-testid=chat]")).to_contain_text(
        f"@Alice {answers['How much is it?']}"
    )
    expect(english).to_contain_text("answered in")
    expect(panel.locator("[data-testid=qa-count]")).to_have_text("1 open")
