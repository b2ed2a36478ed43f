"""The append-only audit log, sanctions and appeals, and the checks other domains call.

Every supervision action writes one audit row through `record_audit` in the same transaction
as the action. The database refuses UPDATE and DELETE on the audit table (triggers), so the
log cannot be rewritten by the application either. Personal text (an appeal's or a report's
words) never goes into the log: it holds ids, codes and the operator's reason.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, PersonalRows, Role
from livecart.core.clock import Clock, SystemClock
from livecart.core.errors import DomainError, PermissionDenied
from livecart.supervision.errors import (
    AnchorSuspended,
    AppealNotAllowed,
    AppealNotPending,
    FlashSaleFrozen,
    ProductDelisted,
    RoomSuspended,
    SanctionNotFound,
    SanctionSubjectInvalid,
)
from livecart.supervision.models import AuditEntry, ConsumerReport, Sanction
from livecart.supervision.risk_schemas import (
    SANCTION_SUBJECTS,
    AppealDecisionIn,
    AppealIn,
    AppealStatus,
    AuditOut,
    LiftIn,
    SanctionBlock,
    SanctionIn,
    SanctionKind,
    SanctionOut,
    SubjectKind,
)

# ---------------------------------------------------------------- audit log


def actor_role(actor: Identity | None) -> str:
    """The role an action is recorded under: the strongest the actor holds ('system': none)."""
    if actor is None:
        return "system"
    for role in (Role.operator, Role.moderator, Role.merchant, Role.anchor, Role.consumer):
        if actor.has(role):
            return role.value
    return "consumer"


async def record_audit(
    session: AsyncSession,
    *,
    actor: Identity | None,
    action: str,
    subject_kind: str,
    subject_id: int,
    reason: str,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditOut:
    """Append one row to the audit log, in the caller's transaction.

    `actor` None is the platform itself (an automatic action). `details` holds ids, codes and
    counts, never a person's own words (see docs/supervision.md, "Audit log and privacy").
    """
    entry = AuditEntry(
        at=now or SystemClock().now(),
        actor_id=None if actor is None else actor.id,
        actor_role=actor_role(actor),
        action=action,
        subject_kind=subject_kind,
        subject_id=subject_id,
        reason=reason,
        details=details or {},
    )
    session.add(entry)
    await session.flush()
    return AuditOut.model_validate(entry)


async def audit_log(
    session: AsyncSession,
    *,
    action: str | None = None,
    subject_kind: str | None = None,
    subject_id: int | None = None,
    actor_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditOut]:
    """Audit rows, newest first, filtered; page with `before_id` (the last id seen)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 500)))
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if subject_kind is not None:
        query = query.where(AuditEntry.subject_kind == subject_kind)
    if subject_id is not None:
        query = query.where(AuditEntry.subject_id == subject_id)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return [AuditOut.model_validate(row) for row in await session.scalars(query)]


# ---------------------------------------------------------------- sanctions


def _require_operator(actor: Identity) -> None:
    if not actor.is_operator:
        raise PermissionDenied("only an operator may do this", code="not_operator")


def _is_active(row: Sanction, now: datetime) -> bool:
    return row.lifted_at is None and (row.ends_at is None or row.ends_at > now)


def _out(row: Sanction, now: datetime) -> SanctionOut:
    out = SanctionOut.model_validate(row)
    out.active = _is_active(row, now)
    return out


def _active_clause(now: datetime) -> Any:
    return and_(
        Sanction.lifted_at.is_(None), or_(Sanction.ends_at.is_(None), Sanction.ends_at > now)
    )


@dataclass(frozen=True)
class SanctionParty:
    """Who may appeal a sanction: a user (the anchor) and/or the members of a brand.

    The caller (the API) resolves it from the subject through the owning domain's service."""

    user_id: int | None = None
    brand_id: int | None = None


async def impose_sanction(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    data: SanctionIn,
    party: SanctionParty,
) -> SanctionOut:
    """An operator sanctions a subject (warning, delisting, freeze, suspension); audited."""
    _require_operator(actor)
    implied = SANCTION_SUBJECTS[data.kind]
    subject_kind = implied or data.subject_kind
    if subject_kind is None:
        raise SanctionSubjectInvalid("a warning names its subject_kind")
    if implied is not None and data.subject_kind not in (None, implied):
        raise SanctionSubjectInvalid(
            f"{data.kind.value} applies to a {implied.value}",
            details={"subject_kind": implied.value},
        )
    now = clock.now()
    if data.ends_at is not None and data.ends_at <= now:
        raise SanctionSubjectInvalid("ends_at must be in the future")
    row = Sanction(
        kind=data.kind.value,
        subject_kind=subject_kind.value,
        subject_id=data.subject_id,
        reason=data.reason,
        party_user_id=party.user_id,
        party_brand_id=party.brand_id,
        created_by=actor.id,
        created_at=now,
        ends_at=data.ends_at,
        appeal_status=AppealStatus.none.value,
        appeal_text="",
    )
    session.add(row)
    await session.flush()
    await record_audit(
        session,
        actor=actor,
        action=f"sanction.{data.kind.value}",
        subject_kind=subject_kind.value,
        subject_id=data.subject_id,
        reason=data.reason,
        details={
            "sanction_id": row.id,
            "ends_at": None if data.ends_at is None else data.ends_at.isoformat(),
        },
        now=now,
    )
    return _out(row, now)


async def warn_automatically(
    session: AsyncSession,
    *,
    clock: Clock,
    subject_kind: SubjectKind,
    subject_id: int,
    reason: str,
    details: dict[str, Any],
) -> SanctionOut:
    """A warning the platform gives itself when a risk threshold is crossed; audited as system."""
    now = clock.now()
    row = Sanction(
        kind=SanctionKind.warn.value,
        subject_kind=subject_kind.value,
        subject_id=subject_id,
        reason=reason,
        party_user_id=subject_id if subject_kind is SubjectKind.anchor else None,
        party_brand_id=subject_id if subject_kind is SubjectKind.brand else None,
        created_by=None,
        created_at=now,
        appeal_status=AppealStatus.none.value,
        appeal_text="",
    )
    session.add(row)
    await session.flush()
    await record_audit(
        session,
        actor=None,
        action="sanction.warn",
        subject_kind=subject_kind.value,
        subject_id=subject_id,
        reason=reason,
        details={"sanction_id": row.id, "automatic": True, **details},
        now=now,
    )
    return _out(row, now)


async def _load(session: AsyncSession, sanction_id: int) -> Sanction:
    row = await session.get(Sanction, sanction_id)
    if row is None:
        raise SanctionNotFound("sanction not found", details={"sanction_id": sanction_id})
    return row


def _may_appeal(actor: Identity, row: Sanction) -> bool:
    return (row.party_user_id is not None and actor.id == row.party_user_id) or (
        row.party_brand_id is not None and row.party_brand_id in actor.brand_ids
    )


async def get_sanction(
    session: AsyncSession, *, clock: Clock, actor: Identity, sanction_id: int
) -> SanctionOut:
    """One sanction, for operators and the sanctioned party."""
    row = await _load(session, sanction_id)
    if not (actor.is_operator or _may_appeal(actor, row)):
        raise SanctionNotFound("sanction not found", details={"sanction_id": sanction_id})
    return _out(row, clock.now())


async def list_sanctions(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    subject_kind: SubjectKind | None = None,
    subject_id: int | None = None,
    active: bool | None = None,
    appeal_status: AppealStatus | None = None,
    limit: int = 100,
) -> list[SanctionOut]:
    """Sanctions newest first: every one for operators, their own for anchors and merchants."""
    now = clock.now()
    query = select(Sanction).order_by(Sanction.id.desc()).limit(max(1, min(limit, 500)))
    if not actor.is_operator:
        mine = [Sanction.party_user_id == actor.id]
        if actor.brand_ids:
            mine.append(Sanction.party_brand_id.in_(actor.brand_ids))
        query = query.where(or_(*mine))
    if subject_kind is not None:
        query = query.where(Sanction.subject_kind == subject_kind.value)
    if subject_id is not None:
        query = query.where(Sanction.subject_id == subject_id)
    if active is True:
        query = query.where(_active_clause(now))
    if appeal_status is not None:
        query = query.where(Sanction.appeal_status == appeal_status.value)
    rows = list(await session.scalars(query))
    if active is False:
        rows = [row for row in rows if not _is_active(row, now)]
    return [_out(row, now) for row in rows]


async def lift_sanction(
    session: AsyncSession, *, clock: Clock, actor: Identity, sanction_id: int, data: LiftIn
) -> SanctionOut:
    """An operator ends a sanction before its time; audited."""
    _require_operator(actor)
    row = await _load(session, sanction_id)
    now = clock.now()
    if row.lifted_at is None:
        row.lifted_at = now
        row.lifted_by = actor.id
    await record_audit(
        session,
        actor=actor,
        action="sanction.lift",
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        reason=data.reason,
        details={"sanction_id": row.id},
        now=now,
    )
    return _out(row, now)


async def appeal_sanction(
    session: AsyncSession, *, clock: Clock, actor: Identity, sanction_id: int, data: AppealIn
) -> SanctionOut:
    """The sanctioned party appeals once, with text, while the sanction holds; audited (the
    text stays on the sanction, the audit row only says that an appeal was made)."""
    row = await _load(session, sanction_id)
    if not _may_appeal(actor, row):
        raise SanctionNotFound("sanction not found", details={"sanction_id": sanction_id})
    now = clock.now()
    if row.appeal_status != AppealStatus.none.value or not _is_active(row, now):
        raise AppealNotAllowed(
            "a sanction can be appealed once, while it holds",
            details={"appeal_status": row.appeal_status},
        )
    row.appeal_status = AppealStatus.pending.value
    row.appeal_text = data.text
    row.appeal_by = actor.id
    row.appealed_at = now
    await record_audit(
        session,
        actor=actor,
        action="appeal.file",
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        reason="appeal filed",
        details={"sanction_id": row.id, "text_length": len(data.text)},
        now=now,
    )
    return _out(row, now)


async def decide_appeal(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    sanction_id: int,
    data: AppealDecisionIn,
) -> SanctionOut:
    """An operator upholds the sanction or lifts it; audited."""
    _require_operator(actor)
    row = await _load(session, sanction_id)
    if row.appeal_status != AppealStatus.pending.value:
        raise AppealNotPending(
            "no appeal is waiting on this sanction", details={"appeal_status": row.appeal_status}
        )
    now = clock.now()
    row.appeal_decided_by = actor.id
    row.appeal_decided_at = now
    if data.decision == "lift":
        row.appeal_status = AppealStatus.lifted.value
        if row.lifted_at is None:
            row.lifted_at = now
            row.lifted_by = actor.id
    else:
        row.appeal_status = AppealStatus.upheld.value
    await record_audit(
        session,
        actor=actor,
        action=f"appeal.{data.decision}",
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        reason=data.reason,
        details={"sanction_id": row.id},
        now=now,
    )
    return _out(row, now)


# ---------------------------------------------------------------- enforcement

_REFUSALS: dict[str, tuple[type[DomainError], str]] = {
    SanctionKind.suspend_anchor.value: (AnchorSuspended, "the anchor is suspended"),
    SanctionKind.suspend_room.value: (RoomSuspended, "the room is suspended"),
    SanctionKind.delist_product.value: (ProductDelisted, "the product is delisted"),
    SanctionKind.freeze_flash_sale.value: (FlashSaleFrozen, "the flash sale is frozen"),
}
_SUBJECT_OF_KIND = {
    SanctionKind.suspend_anchor.value: SubjectKind.anchor.value,
    SanctionKind.suspend_room.value: SubjectKind.room.value,
    SanctionKind.delist_product.value: SubjectKind.product.value,
    SanctionKind.freeze_flash_sale.value: SubjectKind.flash_sale.value,
}


def _refusal(row: Sanction) -> DomainError:
    error, message = _REFUSALS[row.kind]
    return error(
        f"{message}: {row.reason}",
        details={
            "sanction_id": row.id,
            "until": None if row.ends_at is None else row.ends_at.isoformat(),
        },
    )


@dataclass(frozen=True)
class Standing:
    """The blocking sanctions in force over some subjects, read in one query."""

    blocking: dict[tuple[str, int], Sanction] = field(default_factory=dict)

    def block(
        self,
        *,
        anchor_id: int | None = None,
        room_id: int | None = None,
        product_ids: Iterable[int] = (),
        flash_sale_id: int | None = None,
    ) -> SanctionBlock | None:
        """The first sanction in force among these subjects, as data (for views), or None."""
        row = self._first(anchor_id, room_id, product_ids, flash_sale_id)
        return None if row is None else block_of(row)

    def _first(
        self,
        anchor_id: int | None,
        room_id: int | None,
        product_ids: Iterable[int],
        flash_sale_id: int | None,
    ) -> Sanction | None:
        keys: list[tuple[str, int]] = []
        if anchor_id is not None:
            keys.append((SubjectKind.anchor.value, anchor_id))
        if room_id is not None:
            keys.append((SubjectKind.room.value, room_id))
        keys.extend((SubjectKind.product.value, product_id) for product_id in product_ids)
        if flash_sale_id is not None:
            keys.append((SubjectKind.flash_sale.value, flash_sale_id))
        for key in keys:
            row = self.blocking.get(key)
            if row is not None:
                return row
        return None

    def refusal(
        self,
        *,
        anchor_id: int | None = None,
        room_id: int | None = None,
        product_ids: Iterable[int] = (),
        flash_sale_id: int | None = None,
    ) -> DomainError | None:
        """The error for the first sanction in force among these subjects, or None."""
        row = self._first(anchor_id, room_id, product_ids, flash_sale_id)
        return None if row is None else _refusal(row)


async def standing(
    session: AsyncSession,
    *,
    now: datetime,
    anchor_ids: Collection[int] = (),
    room_ids: Collection[int] = (),
    product_ids: Collection[int] = (),
    flash_sale_ids: Collection[int] = (),
) -> Standing:
    """Load the blocking sanctions (suspensions, delistings, freezes) in force over the given
    subjects; warnings block nothing. One query, for a batch of chat or a single request."""
    wanted = {
        SanctionKind.suspend_anchor.value: set(anchor_ids),
        SanctionKind.suspend_room.value: set(room_ids),
        SanctionKind.delist_product.value: set(product_ids),
        SanctionKind.freeze_flash_sale.value: set(flash_sale_ids),
    }
    clauses = [
        and_(Sanction.kind == kind, Sanction.subject_id.in_(ids))
        for kind, ids in wanted.items()
        if ids
    ]
    if not clauses:
        return Standing()
    rows = await session.scalars(
        select(Sanction).where(or_(*clauses), _active_clause(now)).order_by(Sanction.id)
    )
    found: dict[tuple[str, int], Sanction] = {}
    for row in rows:
        found.setdefault((_SUBJECT_OF_KIND[row.kind], row.subject_id), row)
    return Standing(found)


def delisted_products(now: datetime) -> Select[int]:
    """The ids of products under a delisting in force, as a subquery for other domains'
    listings (`Product.id.not_in(...)`), so a page of results stays a full page."""
    return select(Sanction.subject_id).where(
        Sanction.kind == SanctionKind.delist_product.value, _active_clause(now)
    )


def block_of(row: Sanction) -> SanctionBlock:
    """A blocking sanction as other domains show it (code, reason, id, until)."""
    error, _message = _REFUSALS[row.kind]
    return SanctionBlock(code=error.code, reason=row.reason, sanction_id=row.id, until=row.ends_at)


async def enforce(
    session: AsyncSession,
    *,
    now: datetime,
    anchor_id: int | None = None,
    room_id: int | None = None,
    product_ids: Collection[int] = (),
    flash_sale_id: int | None = None,
) -> None:
    """Raise the sanction error (403, e.g. `anchor_suspended`) if any subject is blocked."""
    found = await standing(
        session,
        now=now,
        anchor_ids=() if anchor_id is None else (anchor_id,),
        room_ids=() if room_id is None else (room_id,),
        product_ids=product_ids,
        flash_sale_ids=() if flash_sale_id is None else (flash_sale_id,),
    )
    error = found.refusal(
        anchor_id=anchor_id, room_id=room_id, product_ids=product_ids, flash_sale_id=flash_sale_id
    )
    if error is not None:
        raise error


# ---------------------------------------------------------------- personal data


async def sanction_personal_data(session: AsyncSession, user_id: int) -> PersonalRows:
    """The reports a user filed and the sanctions they appealed (a privacy export)."""
    return await accounts.collect_rows(
        session,
        {
            "supervision_reports": select(ConsumerReport.__table__).where(
                ConsumerReport.reporter_id == user_id
            ),
            "supervision_sanctions": select(Sanction.__table__).where(
                Sanction.appeal_by == user_id
            ),
        },
    )


async def erase_sanction_personal_data(session: AsyncSession, user_id: int) -> None:
    """For a deleted account: the words and evidence of their reports and the words of their
    appeals emptied; the cases and the audit log (which never held them) stay. Idempotent."""
    await session.execute(
        update(ConsumerReport)
        .where(ConsumerReport.reporter_id == user_id)
        .values(text="", evidence=[])
    )
    await session.execute(
        update(Sanction).where(Sanction.appeal_by == user_id).values(appeal_text="")
    )
