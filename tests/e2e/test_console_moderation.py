"""The anchor moderates the chat from the console while viewers watch in other browsers."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.conftest import LiveServer
from tests.e2e.conftest import login, on_server_db
from tests.e2e.world import World, build_world


def open_pages(
    server: LiveServer, new_context: Callable[..., BrowserContext], world: World
) -> tuple[Page, Page, Page]:
    """The anchor's console, Alice's room and Bob's room, each in its own browser context."""
    console = new_context(viewport={"width": 1360, "height": 900}).new_page()
    login(console, server, world.anchor_id, f"/console/sessions/{world.session_id}")
    expect(console.locator("[data-testid=session-status]")).to_have_text("live")
    rooms = []
    for user_id in (world.alice_id, world.bob_id):
        room = new_context().new_page()
        login(room, server, user_id, f"/live/{world.session_id}")
        expect(room.locator("#chat-input")).to_be_enabled()
        rooms.append(room)
    return console, rooms[0], rooms[1]


def say(room: Page, text: str) -> None:
    """Type a chat message and press Enter, as a viewer does."""
    room.fill("#chat-input", text)
    room.press("#chat-input", "Enter")


def console_line(console: Page, text: str) -> Locator:
    """The console's chat line with this text."""
    return console.locator("[data-testid=console-chat] li", has_text=text)


def test_anchor_deletes_a_message_and_mutes_a_viewer(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    console, alice, bob = open_pages(live_server, new_context, world)
    alice_chat, bob_chat = alice.locator("[data-testid=chat]"), bob.locator("[data-testid=chat]")

    say(alice, "buy from my shop instead")
    for chat in (alice_chat, bob_chat):
        expect(chat.locator("li", has_text="buy from my shop instead")).to_have_count(1)
    line = console_line(console, "buy from my shop instead")
    line.get_by_role("button", name="Delete").click()
    for chat in (alice_chat, bob_chat):
        expect(chat.locator("li", has_text="buy from my shop instead")).to_have_count(0)
    expect(line).to_have_count(0)
    alice.reload()  # and it stays gone from the history
    expect(alice.locator("#chat-input")).to_be_enabled()
    expect(alice_chat.locator("li", has_text="buy from my shop instead")).to_have_count(0)

    say(alice, "this tea is overpriced!!!")
    line = console_line(console, "this tea is overpriced")
    line.get_by_role("button", name="Mute 10m").click()
    expect(console.locator("[data-testid=console-message]")).to_have_text("Done: mute.")
    expect(alice_chat.locator("li.system")).to_contain_text(["You were muted for 600 s."])
    expect(alice.locator("#chat-input")).to_be_disabled()
    expect(alice.locator("#chat-input")).to_have_attribute("placeholder", "You are muted for now")
    # A message sent anyway (a page opened before the mute reached it) is refused with a reason.
    alice.evaluate(
        "() => { document.querySelectorAll('#chat-form input, #chat-form button')"
        ".forEach((e) => { e.disabled = false; }); window.livecartRoom.state.canChat = true; }"
    )
    say(alice, "can anyone hear me")
    expect(alice_chat.locator("li.system")).to_contain_text(
        ["You were muted for 600 s.", "Not sent: you are muted in this room."]
    )
    # Nobody else sees the muted message, nor that Alice was muted.
    say(bob, "bob is still here")
    expect(console_line(console, "bob is still here")).to_have_count(1)
    expect(bob_chat.locator("li", has_text="bob is still here")).to_have_count(1)
    expect(bob_chat).not_to_contain_text("can anyone hear me")
    expect(bob_chat).not_to_contain_text("muted")
    expect(console.locator("[data-testid=console-chat]")).not_to_contain_text("can anyone hear me")
    # After a reload the room still knows Alice cannot chat.
    alice.reload()
    expect(alice.locator("#chat-input")).to_have_attribute(
        "placeholder", "You cannot chat in this room right now"
    )
    expect(alice.locator("#chat-input")).to_be_disabled()


def test_anchor_sets_slow_mode_then_bans_a_viewer(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    console, alice, bob = open_pages(live_server, new_context, world)
    alice_chat, bob_chat = alice.locator("[data-testid=chat]"), bob.locator("[data-testid=chat]")

    console.select_option("#slow-mode", "30")
    expect(console.locator("[data-testid=console-message]")).to_have_text("Done: slow mode.")
    for chat in (alice_chat, bob_chat):
        expect(chat.locator("li.system")).to_contain_text(["Slow mode: one message every 30 s."])

    say(bob, "first question")
    expect(bob_chat.locator("li", has_text="first question")).to_have_count(1)
    say(bob, "second question right away")
    refusal = bob_chat.locator("li.system").last
    expect(refusal).to_contain_text("Not sent: slow mode: one message every 30 s.")
    expect(refusal).to_contain_text("Try again in")
    expect(alice_chat.locator("li", has_text="first question")).to_have_count(1)
    expect(alice_chat).not_to_contain_text("second question right away")
    expect(console.locator("[data-testid=console-chat]")).not_to_contain_text("second question")

    # The anchor bans Bob from the console.
    line = console_line(console, "first question")
    line.get_by_role("button", name="Ban").click()
    expect(console.locator("[data-testid=console-message]")).to_have_text("Done: ban.")
    expect(bob_chat.locator("li.system")).to_contain_text(["banned"])
    expect(bob.locator("#chat-input")).to_be_disabled()
    expect(bob.locator("#chat-input")).to_have_attribute(
        "placeholder", "You were removed from this chat"
    )
    expect(bob.locator("#conn")).to_have_text("disconnected")  # not "reconnecting…"
    # Coming back does not let Bob in again.
    bob.reload()
    expect(bob_chat.locator("li.system")).to_have_text(["you are banned from this room"])
    expect(bob.locator("#chat-input")).to_be_disabled()
    expect(bob.locator("#chat-input")).to_have_attribute(
        "placeholder", "You were removed from this chat"
    )
    expect(bob.locator("#conn")).to_have_text("disconnected")
    # Alice goes on chatting (after slow mode is off) and the console sees her.
    console.select_option("#slow-mode", "0")
    expect(alice_chat.locator("li.system").last).to_have_text("Slow mode is off.")
    say(alice, "thanks for keeping it clean")
    expect(console_line(console, "thanks for keeping it clean")).to_have_count(1)
    expect(alice_chat.locator("li", has_text="thanks for keeping it clean")).to_have_count(1)
    # By now anything broadcast earlier has arrived: the refused message never was.
    expect(alice_chat).not_to_contain_text("second question right away")
    expect(console.locator("[data-testid=console-chat]")).not_to_contain_text("second question")


def test_the_host_is_warned_about_words_the_room_still_sees(
    live_server: LiveServer, new_context: Callable[..., BrowserContext]
) -> None:
    world = on_server_db(live_server, build_world)
    console, alice, _ = open_pages(live_server, new_context, world)
    said = "this serum is perfect for dry skin"
    say(console, said)
    note = console.locator("[data-testid=console-message]")
    expect(note).to_contain_text("Shown, with a warning about “perfect”:")
    expect(note).to_have_class("flash-slot flash warn")
    line = console_line(console, said)
    expect(line).to_have_class("warned")
    expect(line).to_have_attribute("title", "Compliance warning: “perfect”")
    # The room sees the message, and nothing of the warning.
    alice_chat = alice.locator("[data-testid=chat]")
    expect(alice_chat.locator("li", has_text=said)).to_have_count(1)
    expect(alice_chat).not_to_contain_text("warning")
    # A message without such words marks nothing.
    say(console, "welcome everyone")
    expect(console_line(console, "welcome everyone")).to_have_count(1)
    expect(console_line(console, "welcome everyone")).not_to_have_class("warned")
