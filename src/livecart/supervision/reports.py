"""Consumer reports (fake goods, misrepresentation, anchor misconduct) and their triage.

A consumer files a report from a live room or an order, with text and evidence (links or
storage keys of photos). Operators triage: new -> in_review -> actioned | dismissed (new may go
straight to actioned or dismissed). Every step is audited without the reporter's words. A
report from a live session also counts in that session's overturn window.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts.schemas import Identity
from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork
from livecart.core.errors import PermissionDenied
from livecart.supervision.errors import (
    ReportNotFound,
    ReportTargetMissing,
    ReportTransitionInvalid,
)
from livecart.supervision.models import ConsumerReport
from livecart.supervision.overturn import record_complaint
from livecart.supervision.risk_schemas import (
    ReportIn,
    ReportOut,
    ReportStatus,
    ReportTarget,
    ReportTriageIn,
)
from livecart.supervision.sanctions import record_audit

_NEXT: dict[str, set[str]] = {
    ReportStatus.new.value: {"in_review", "actioned", "dismissed"},
    ReportStatus.in_review.value: {"actioned", "dismissed"},
}


async def file_report(
    uow: UnitOfWork, *, clock: Clock, actor: Identity, data: ReportIn, target: ReportTarget
) -> ReportOut:
    """A consumer's report about what `target` resolves (from the room or the order); audited."""
    if target.session_id is None and target.order_id is None and target.product_id is None:
        raise ReportTargetMissing("a report names a live session, an order or a product")
    now = clock.now()
    row = ConsumerReport(
        reporter_id=actor.id,
        kind=data.kind.value,
        session_id=target.session_id,
        order_id=target.order_id,
        product_id=target.product_id,
        anchor_id=target.anchor_id,
        brand_id=target.brand_id,
        text=data.text,
        evidence=list(data.evidence),
        status=ReportStatus.new.value,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    await uow.session.flush()
    subject_kind, subject_id = _subject(row)
    await record_audit(
        uow.session,
        actor=actor,
        action="report.file",
        subject_kind=subject_kind,
        subject_id=subject_id,
        reason=f"consumer report: {row.kind}",
        details={"report_id": row.id, "kind": row.kind, "evidence": len(row.evidence)},
        now=now,
    )
    if row.session_id is not None:
        await record_complaint(uow, session_id=row.session_id, now=now, kind=row.kind)
    return ReportOut.model_validate(row)


def _subject(row: ConsumerReport) -> tuple[str, int]:
    if row.kind == "anchor_misconduct" and row.anchor_id is not None:
        return "anchor", row.anchor_id
    if row.product_id is not None:
        return "product", row.product_id
    if row.anchor_id is not None:
        return "anchor", row.anchor_id
    return "report", row.id


async def list_reports(
    session: AsyncSession,
    *,
    actor: Identity,
    status: ReportStatus | None = None,
    limit: int = 100,
) -> list[ReportOut]:
    """Reports newest first: the triage queue for operators, one's own for anyone else."""
    query = select(ConsumerReport).order_by(ConsumerReport.id.desc()).limit(max(1, min(limit, 500)))
    if not actor.is_operator:
        query = query.where(ConsumerReport.reporter_id == actor.id)
    if status is not None:
        query = query.where(ConsumerReport.status == status.value)
    return [ReportOut.model_validate(row) for row in await session.scalars(query)]


async def triage_report(
    session: AsyncSession, *, clock: Clock, actor: Identity, report_id: int, data: ReportTriageIn
) -> ReportOut:
    """An operator moves a report on (in review, actioned, dismissed); audited."""
    if not actor.is_operator:
        raise PermissionDenied("only an operator may do this", code="not_operator")
    row = await session.get(ConsumerReport, report_id)
    if row is None:
        raise ReportNotFound("report not found", details={"report_id": report_id})
    if data.status not in _NEXT.get(row.status, set()):
        raise ReportTransitionInvalid(
            f"a {row.status} report cannot become {data.status}",
            details={"status": row.status},
        )
    now = clock.now()
    row.status = data.status
    row.handled_by = actor.id
    row.updated_at = now
    subject_kind, subject_id = _subject(row)
    await record_audit(
        session,
        actor=actor,
        action=f"report.{data.status}",
        subject_kind=subject_kind,
        subject_id=subject_id,
        reason=data.reason,
        details={"report_id": row.id, "kind": row.kind},
        now=now,
    )
    return ReportOut.model_validate(row)


async def report_counts(
    session: AsyncSession, *, subject_kind: str, subject_id: int
) -> tuple[int, int]:
    """(reports, of which actioned) about a brand, product or anchor (a risk signal)."""
    column = {
        "brand": ConsumerReport.brand_id,
        "product": ConsumerReport.product_id,
        "anchor": ConsumerReport.anchor_id,
    }[subject_kind]
    rows = await session.scalars(
        select(ConsumerReport.status).where(
            column == subject_id, ConsumerReport.status != ReportStatus.dismissed.value
        )
    )
    statuses = list(rows)
    return len(statuses), sum(1 for s in statuses if s == ReportStatus.actioned.value)
