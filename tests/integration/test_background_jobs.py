"""One-off background jobs of a running container (`Container.once`): a server that runs one
per campaign or account deletion must not keep every finished task."""

from __future__ import annotations

import asyncio

import pytest

from livecart.bootstrap import Container


async def test_a_one_off_job_leaves_the_background_list_when_it_ends(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()
    ran: list[str] = []

    async def waits() -> None:
        await release.wait()
        ran.append("waits")

    async def fails() -> None:
        raise RuntimeError("the mail server said no")

    container.once(waits, "test-waits")
    container.once(fails, "test-fails")
    names = {t.get_name() for t in container.background}
    assert {"test-waits", "test-fails"} <= names

    tasks = [t for t in container.background if t.get_name().startswith("test-")]
    release.set()
    await asyncio.wait(tasks, timeout=10)
    await asyncio.sleep(0)  # done callbacks run on the next turn of the loop

    assert ran == ["waits"]
    assert not {t.get_name() for t in container.background} & {"test-waits", "test-fails"}
    assert "background job test-fails failed" in caplog.text
