"""Anchor scripts: the talking points a session's hosts prepare and read (issue 5, item 3).

The session's anchor and co-hosts write the script; the room's staff (moderators too) and
operators read it; viewers never see it. Each save is scanned by the compliance lexicon with
kind `anchor_script`: a blocking hit refuses the save (`compliance_blocked`, nothing stored),
warn-only hits are stored with the version. A claimed remaining quantity ("only 3 left",
"仅剩最后5件") is checked against the stock of the session's showcase, and a claimed lowest
price ever ("lowest price ever", "历史新低") against its price history, like a host's chat
(`scarcity_claim_false`, `price_claim_false`; `live.claims`). Every hit carries its line and
column in the script.

Each save adds a version; the highest is the current script and the last `KEEP_VERSIONS` are
kept. The API route keeps a refused save as a risk signal of its author
(`supervision.service.keep_refusal`, which rolls the request back first). See docs/supervision.md,
"Anchor scripts".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity
from livecart.core.clock import Clock
from livecart.core.errors import DomainError, PermissionDenied
from livecart.live.access import is_host, is_staff, load_session
from livecart.live.claims import Check, claim_checks
from livecart.live.errors import NotRoomStaff, ScriptChanged, SessionEnded, SessionNotFound
from livecart.live.models import SessionScript
from livecart.live.schemas import PersonOut, SaleUnits, ScriptHit, ScriptOut, SessionStatus
from livecart.supervision import service as supervision
from livecart.supervision.errors import ComplianceBlocked
from livecart.supervision.schemas import FieldHit

# Versions of a session's script kept (the current one included); older ones go on save.
KEEP_VERSIONS = 20
SCRIPT_FIELD = "script"


def where_in(text: str, start: int) -> tuple[int, int]:
    """The line and column (both from 1) of an offset into a text."""
    line_start = text.rfind("\n", 0, start) + 1
    return text.count("\n", 0, start) + 1, start - line_start + 1


def located(text: str, hits: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Hits with `start` offsets into `text`, each with its `line` and `column` added."""
    out: list[dict[str, Any]] = []
    for hit in hits:
        line, column = where_in(text, int(hit["start"]))
        out.append({**hit, "line": line, "column": column})
    return out


def _dumped(hits: Iterable[FieldHit]) -> list[dict[str, Any]]:
    return [hit.model_dump() for hit in hits]


def _line_refusal(text: str, check: Check) -> DomainError | None:
    # Line by line, so the refusal can say where the claim is.
    offset = 0
    for number, line in enumerate(text.split("\n"), start=1):
        refused = check(line)
        if refused is not None:
            details = refused.details or {}
            claimed = str(details.get("text", ""))
            at = line.find(claimed) if claimed else -1
            column = at + 1 if at >= 0 else 1
            start = offset + max(at, 0)
            place = {"line": number, "column": column, "start": start}
            place["end"] = start + len(claimed) if at >= 0 else start
            details.update(place)
            details["hits"] = [{**hit, **place} for hit in details.get("hits", [])]
            refused.details = details
            return refused
        offset += len(line) + 1
    return None


async def _out(session: AsyncSession, session_id: int, row: SessionScript | None) -> ScriptOut:
    if row is None:
        return ScriptOut(
            session_id=session_id, version=0, text="", updated_at=None, updated_by=None
        )
    names = await accounts.display_names(session, {row.updated_by})
    return ScriptOut(
        session_id=session_id,
        version=row.version,
        text=row.text,
        updated_at=row.updated_at,
        updated_by=PersonOut(id=row.updated_by, display_name=names.get(row.updated_by, "")),
        compliance_warnings=[ScriptHit.model_validate(hit) for hit in row.warnings],
    )


async def _current(session: AsyncSession, session_id: int) -> SessionScript | None:
    found: SessionScript | None = await session.scalar(
        select(SessionScript)
        .where(SessionScript.session_id == session_id)
        .order_by(SessionScript.version.desc())
        .limit(1)
    )
    return found


async def get_script(
    session: AsyncSession, *, actor: Identity, session_id: int, version: int | None = None
) -> ScriptOut:
    """The session's current script, or a kept earlier `version` (the session's anchor and
    co-hosts, the room's moderators and operators; viewers get 403 `not_room_staff`)."""
    live = await load_session(session, session_id)
    if not is_staff(actor, live):
        raise NotRoomStaff("only the session's hosts, moderators and operators read its script")
    if version is None:
        return await _out(session, session_id, await _current(session, session_id))
    row = await session.scalar(
        select(SessionScript).where(
            SessionScript.session_id == session_id, SessionScript.version == version
        )
    )
    if row is None:
        raise SessionNotFound(
            "no such version of the script is kept",
            code="script_version_not_found",
            details={"session_id": session_id, "version": version},
        )
    return await _out(session, session_id, row)


async def save_script(
    session: AsyncSession,
    *,
    clock: Clock,
    lexicon: supervision.Lexicon,
    actor: Identity,
    session_id: int,
    text: str,
    base_version: int | None = None,
    sale_units: SaleUnits | None = None,
) -> ScriptOut:
    """Save a new version of the session's script (its anchor or a co-host, until it ends).

    Refused with 403 `anchor_suspended` / `room_suspended` while such a sanction holds, with
    422 `compliance_blocked` (every hit, with line and column) or
    `scarcity_claim_false` (a claimed quantity below the showcase's stock) or
    `price_claim_false` (the lowest price ever, when the showcase's SKUs have been cheaper),
    and nothing is stored; warn-only hits are stored with the version, returned, and kept as
    risk signals of the author (once per rule and words in the session)."""
    live = await load_session(session, session_id)
    if not is_host(actor, live):
        raise PermissionDenied(
            "only the session's anchor or a co-host may write its script", code="not_host"
        )
    if live.status == SessionStatus.ended.value:
        raise SessionEnded("the session has ended; its script is kept as it was")
    # Sanctions gate (supervision): a suspended anchor or room prepares no live.
    await supervision.enforce(session, now=clock.now(), anchor_id=actor.id, room_id=live.room_id)
    try:
        hits = supervision.check_fields([(SCRIPT_FIELD, "anchor_script", text)], lexicon=lexicon)
    except ComplianceBlocked as refused:
        details = refused.details or {}
        details["hits"] = located(text, details.get("hits", []))
        refused.details = details
        raise
    checks = await claim_checks(
        session,
        text=text,
        product_ids=[item.product_id for item in live.showcase],
        session_id=live.id,
        sale_units=sale_units,
        field=SCRIPT_FIELD,
        kind="anchor_script",
    )
    for check in checks:
        fake = _line_refusal(text, check)
        if fake is not None:
            raise fake
    current = await session.scalar(
        select(func.max(SessionScript.version)).where(SessionScript.session_id == session_id)
    )
    current = current or 0
    if base_version is not None and base_version != current:
        raise ScriptChanged(
            "the script was saved by someone else since you opened it; reload it first",
            details={"base_version": base_version, "version": current},
        )
    warnings = [ScriptHit.model_validate(hit) for hit in located(text, _dumped(hits))]
    row = SessionScript(
        session_id=session_id,
        version=current + 1,
        text=text,
        warnings=[w.model_dump(mode="json") for w in warnings],
        updated_by=actor.id,
        updated_at=clock.now(),
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as raced:  # two saves at once: the second one loses
        raise ScriptChanged(
            "the script was saved by someone else at the same moment; reload it first",
            details={"base_version": current, "version": current + 1},
        ) from raced
    await session.execute(
        delete(SessionScript).where(
            SessionScript.session_id == session_id,
            SessionScript.version <= row.version - KEEP_VERSIONS,
        )
    )
    # Its warn-only hits count in its author's risk score, as a product text's do.
    await supervision.record_anchor_warnings(
        session, clock=clock, hits=warnings, anchor_id=actor.id, session_id=session_id
    )
    return await _out(session, session_id, row)
