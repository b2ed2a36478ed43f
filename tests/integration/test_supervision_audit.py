"""The supervision audit log: append-only in the database itself, and readable by operators."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, Role
from livecart.bootstrap import Container
from livecart.supervision import service as supervision
from tests.support import auth, make_user

API = "/api/v1"


async def _one_entry(container: Container) -> int:
    async with container.uow() as uow:
        entry = await supervision.record_audit(
            uow.session,
            actor=None,
            action="sanction.warn",
            subject_kind="anchor",
            subject_id=7,
            reason="test",
            details={"sanction_id": 1},
            now=container.clock.now(),
        )
        await uow.commit()
    return entry.id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE supervision_audit SET reason = 'rewritten' WHERE id = :id",
        "UPDATE supervision_audit SET actor_role = 'operator'",
        "DELETE FROM supervision_audit WHERE id = :id",
        "DELETE FROM supervision_audit",
    ],
)
async def test_the_database_refuses_to_change_or_delete_audit_rows(
    container: Container, any_backend: str, statement: str
) -> None:
    entry_id = await _one_entry(container)
    async with container.uow() as uow:
        with pytest.raises(DBAPIError, match="append-only"):
            await uow.session.execute(text(statement), {"id": entry_id})
        await uow.rollback()
    async with container.uow() as uow:
        rows = await supervision.audit_log(uow.session)
    assert [(row.id, row.reason, row.actor_role) for row in rows] == [(entry_id, "test", "system")]


async def test_appending_still_works_after_a_refusal(
    container: Container, any_backend: str
) -> None:
    first = await _one_entry(container)
    async with container.uow() as uow:
        with pytest.raises(DBAPIError):
            await uow.session.execute(text("DELETE FROM supervision_audit"))
        await uow.rollback()
    second = await _one_entry(container)
    async with container.uow() as uow:
        assert [row.id for row in await supervision.audit_log(uow.session)] == [second, first]


async def test_operators_read_the_audit_log_with_filters(
    client: httpx.AsyncClient, container: Container
) -> None:
    operator_id = await make_user(container, Role.operator)
    operator = await _identity(container, operator_id)
    async with container.uow() as uow:
        for subject_id, action in ((1, "sanction.warn"), (2, "sanction.suspend_anchor")):
            await supervision.record_audit(
                uow.session,
                actor=operator,
                action=action,
                subject_kind="anchor",
                subject_id=subject_id,
                reason=f"reason {subject_id}",
                now=container.clock.now(),
            )
        await uow.commit()
    headers = await auth(client, container, operator_id)
    r = await client.get(f"{API}/supervision/audit", headers=headers)
    assert r.status_code == 200, r.text
    assert [row["subject_id"] for row in r.json()] == [2, 1]
    assert {row["actor_role"] for row in r.json()} == {"operator"}
    assert {row["actor_id"] for row in r.json()} == {operator_id}
    r = await client.get(
        f"{API}/supervision/audit", params={"action": "sanction.warn"}, headers=headers
    )
    assert [row["reason"] for row in r.json()] == ["reason 1"]
    newest = (await client.get(f"{API}/supervision/audit", headers=headers)).json()[0]["id"]
    r = await client.get(f"{API}/supervision/audit", params={"before_id": newest}, headers=headers)
    assert [row["subject_id"] for row in r.json()] == [1]
    anchor = await auth(client, container, await make_user(container, Role.anchor))
    assert (await client.get(f"{API}/supervision/audit", headers=anchor)).status_code == 403


async def _identity(container: Container, user_id: int) -> Identity:
    async with container.uow() as uow:
        found = await accounts.load_identity(uow.session, user_id)
    assert found is not None
    return found
