"""Compliance checks other domains call where text enters (products, anchors' chat).

The `Lexicon` is built once by `bootstrap.build_container` and passed in as a keyword
argument, like the clock; see docs/supervision.md, "Where it is enforced".
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, PersonalRows, Role
from livecart.core.clock import Clock
from livecart.core.errors import PermissionDenied
from livecart.supervision.compliance import Lexicon, load_lexicon, scan
from livecart.supervision.errors import (
    AnchorUnderAge,
    ComplianceBlocked,
    ProductNotApproved,
    QualificationExpired,
    QualificationMissing,
    QualificationNotFound,
    ReviewTransitionInvalid,
    SelectionAlreadyOpen,
    SelectionNotFound,
)
from livecart.supervision.models import ProductSelection, Qualification, QualityInspection
from livecart.supervision.schemas import (
    BRAND_KINDS,
    FieldHit,
    InspectionIn,
    InspectionOut,
    QualificationIn,
    QualificationOut,
    ReviewIn,
    ReviewStatus,
    ScanKind,
    SelectionDecisionIn,
    SelectionOut,
    SelectionStatus,
)

__all__ = ["Lexicon", "chat_check", "check_fields", "field_warnings", "load_lexicon"]


def _field_hits(fields: Sequence[tuple[str, ScanKind, str]], *, lexicon: Lexicon) -> list[FieldHit]:
    return [
        FieldHit(field=name, kind=kind, **hit.model_dump())
        for name, kind, text in fields
        for hit in scan(text, kind=kind, lexicon=lexicon).hits
    ]


def check_fields(
    fields: Sequence[tuple[str, ScanKind, str]], *, lexicon: Lexicon
) -> list[FieldHit]:
    """Scan each (field, kind, text): raise ComplianceBlocked listing every hit if a rule
    blocks, else return the warn-only hits."""
    hits = _field_hits(fields, lexicon=lexicon)
    blocking = [hit for hit in hits if hit.action == "block"]
    if blocking:
        rules = sorted({hit.rule_id for hit in blocking})
        names = ", ".join(dict.fromkeys(hit.field for hit in blocking))
        raise ComplianceBlocked(
            f"the {names} breaks compliance rules: {', '.join(rules)}",
            details={"rule_ids": rules, "hits": [hit.model_dump() for hit in hits]},
        )
    return hits


def field_warnings(
    fields: Sequence[tuple[str, ScanKind, str]], *, lexicon: Lexicon
) -> list[FieldHit]:
    """Every hit of stored text, blocking or not (the lexicon may have changed since)."""
    return _field_hits(fields, lexicon=lexicon)


def chat_check(text: str, *, lexicon: Lexicon) -> tuple[ComplianceBlocked | None, list[FieldHit]]:
    """A host's chat message scanned once (kind `chat`): the error when it breaks a blocking
    rule (and no warnings), else None and its warn-only hits."""
    try:
        hits = check_fields([("text", "chat", text)], lexicon=lexicon)
    except ComplianceBlocked as refused:
        return refused, []
    return None, [hit for hit in hits if hit.action == "warn"]


# ---------------------------------------------------------------- qualifications and selection (E)
#
# Qualifications (licences, category permits, anchors' identity verification) and the
# selection review of products for live selling, with the two gates live.service calls:
# `check_can_go_live` (start_session) and `check_can_showcase` (add_to_showcase).
# See docs/supervision.md, "Qualifications", "Gates" and "Selection flow".

MINIMUM_ANCHOR_AGE = 16
# Categories a brand may only sell live with an approved category permit naming them (food,
# cosmetics, health products: the categories Chinese law licenses separately). Replaced as a
# whole by the setting LIVECART_PERMIT_CATEGORIES (a JSON list).
DEFAULT_PERMIT_CATEGORIES: frozenset[str] = frozenset(
    {
        "food",
        "snacks",
        "pantry",
        "tea",
        "alcohol",
        "supplements",
        "health",
        "medical",
        "baby",
        "skincare",
        "makeup",
    }
)
# Selection records that block a new submission of the same product.
_OPEN_SELECTION: frozenset[str] = frozenset({"submitted", "selected", "inspected", "approved"})
# decision -> the statuses it may be taken from, and the status it leads to.
_SELECTION_DECISIONS: dict[str, tuple[frozenset[str], SelectionStatus]] = {
    "select": (frozenset({"submitted"}), "selected"),
    "approve": (frozenset({"inspected"}), "approved"),
    "reject": (frozenset({"submitted", "selected", "inspected", "approved"}), "rejected"),
}


def _age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


async def _audit(
    session: AsyncSession,
    *,
    now: datetime,
    actor: Identity,
    action: str,
    subject_kind: str,
    subject_id: int,
    reason: str,
    details: dict[str, Any] | None = None,
) -> None:
    # Every operator decision on qualifications and selection passes here, into the audit log.
    await record_audit(
        session,
        actor=actor,
        action=action,
        subject_kind=subject_kind,
        subject_id=subject_id,
        reason=reason,
        details=details,
        now=now,
    )


async def _approved(
    session: AsyncSession, *, kind: str, brand_id: int | None = None, user_id: int | None = None
) -> list[Qualification]:
    stmt = select(Qualification).where(
        Qualification.kind == kind, Qualification.status == "approved"
    )
    if brand_id is not None:
        stmt = stmt.where(Qualification.brand_id == brand_id)
    if user_id is not None:
        stmt = stmt.where(Qualification.user_id == user_id)
    return list(await session.scalars(stmt.order_by(Qualification.id)))


def _valid_one(
    rows: Sequence[Qualification], *, today: date, what: dict[str, Any]
) -> Qualification:
    """The approved record valid today that runs longest; else why there is none."""
    valid = [r for r in rows if r.valid_from <= today <= r.expires_on]
    if valid:
        return max(valid, key=lambda r: (r.expires_on, r.id))
    expired = [r for r in rows if r.expires_on < today]
    if expired:
        last = max(expired, key=lambda r: (r.expires_on, r.id))
        raise QualificationExpired(
            f"the {what['kind'].replace('_', ' ')} expired on {last.expires_on.isoformat()}",
            details={
                **what,
                "qualification_id": last.id,
                "expires_on": last.expires_on.isoformat(),
                "today": today.isoformat(),
            },
        )
    if rows:
        first = min(rows, key=lambda r: (r.valid_from, r.id))
        raise QualificationMissing(
            f"the {what['kind'].replace('_', ' ')} is valid only from {first.valid_from}",
            details={
                **what,
                "qualification_id": first.id,
                "valid_from": first.valid_from.isoformat(),
                "today": today.isoformat(),
            },
        )
    raise QualificationMissing(
        f"no approved {what['kind'].replace('_', ' ')}",
        details={**what, "today": today.isoformat()},
    )


async def check_can_go_live(session: AsyncSession, *, anchor_id: int, today: date) -> None:
    """Refuse (409) unless the anchor holds an approved identity verification valid today
    that shows them at least MINIMUM_ANCHOR_AGE years old."""
    what = {"subject": "anchor", "user_id": anchor_id, "kind": "identity_verification"}
    rows = await _approved(session, kind="identity_verification", user_id=anchor_id)
    record = _valid_one(rows, today=today, what=what)
    born = record.date_of_birth
    if born is None:  # erased with a deleted account
        raise QualificationMissing(
            "the identity verification holds no date of birth",
            details={**what, "qualification_id": record.id},
        )
    age = _age_on(born, today)
    if age < MINIMUM_ANCHOR_AGE:
        raise AnchorUnderAge(
            f"anchors must be at least {MINIMUM_ANCHOR_AGE} years old",
            details={
                **what,
                "qualification_id": record.id,
                "age": age,
                "minimum_age": MINIMUM_ANCHOR_AGE,
            },
        )


async def check_can_showcase(
    session: AsyncSession,
    *,
    product_id: int,
    brand_id: int,
    category: str,
    today: date,
    permit_categories: Collection[str] | None = None,
) -> None:
    """Refuse (409) a product not approved for live, of a brand without a valid business
    licence, or in a permit category the brand holds no valid permit for."""
    if not await is_approved_for_live(session, product_id=product_id):
        raise ProductNotApproved(
            "the product has not been approved for live selling",
            details={"product_id": product_id},
        )
    licences = await _approved(session, kind="business_licence", brand_id=brand_id)
    _valid_one(
        licences,
        today=today,
        what={"subject": "brand", "brand_id": brand_id, "kind": "business_licence"},
    )
    needing = DEFAULT_PERMIT_CATEGORIES if permit_categories is None else permit_categories
    if category.casefold() in {c.casefold() for c in needing}:
        permits = [
            r
            for r in await _approved(session, kind="category_permit", brand_id=brand_id)
            if category.casefold() in {c.casefold() for c in r.categories}
        ]
        _valid_one(
            permits,
            today=today,
            what={
                "subject": "brand",
                "brand_id": brand_id,
                "kind": "category_permit",
                "category": category,
            },
        )


# qualification records


def _qualification_out(row: Qualification) -> QualificationOut:
    return QualificationOut.model_validate(row)


def _may_see(actor: Identity, row: Qualification) -> bool:
    return (
        actor.is_operator
        or (row.user_id is not None and row.user_id == actor.id)
        or (row.brand_id is not None and row.brand_id in actor.brand_ids)
    )


def _require_operator(actor: Identity) -> None:
    if not actor.is_operator:
        raise PermissionDenied("only operators review", details={"roles": ["operator"]})


async def submit_qualification(
    session: AsyncSession, *, clock: Clock, actor: Identity, body: QualificationIn
) -> QualificationOut:
    """A merchant files a licence or permit for their brand, an anchor their identity
    verification; it waits (pending) for an operator's review."""
    if body.kind in BRAND_KINDS:
        if body.brand_id is None or body.brand_id not in actor.brand_ids:
            raise PermissionDenied(
                "only the brand's merchants file its qualifications",
                code="not_brand_member",
                details={"brand_id": body.brand_id},
            )
        subject, user_id = "brand", None
    else:
        if not actor.has(Role.anchor):
            raise PermissionDenied("only anchors verify their identity", code="not_an_anchor")
        subject, user_id = "anchor", actor.id
    row = Qualification(
        subject=subject,
        brand_id=body.brand_id,
        user_id=user_id,
        kind=body.kind,
        number=body.number,
        issuer=body.issuer,
        valid_from=body.valid_from,
        expires_on=body.expires_on,
        categories=list(body.categories),
        date_of_birth=body.date_of_birth,
        document_ref=body.document_ref,
        status="pending",
        submitted_by=actor.id,
        submitted_at=clock.now(),
        review_note="",
    )
    session.add(row)
    await session.flush()
    return _qualification_out(row)


async def get_qualification(
    session: AsyncSession, *, actor: Identity, qualification_id: int
) -> QualificationOut:
    """One record, for its owner (anchor, brand member) or an operator."""
    row = await session.get(Qualification, qualification_id)
    if row is None or not _may_see(actor, row):
        raise QualificationNotFound(
            "qualification not found", details={"qualification_id": qualification_id}
        )
    return _qualification_out(row)


async def list_qualifications(
    session: AsyncSession,
    *,
    actor: Identity,
    status: ReviewStatus | None = None,
    brand_id: int | None = None,
    user_id: int | None = None,
    limit: int = 200,
) -> list[QualificationOut]:
    """Records the caller may see (operators: all), oldest pending first for a queue."""
    stmt = select(Qualification)
    if not actor.is_operator:
        stmt = stmt.where(
            or_(
                Qualification.user_id == actor.id,
                Qualification.brand_id.in_(sorted(actor.brand_ids)),
            )
        )
    if status is not None:
        stmt = stmt.where(Qualification.status == status)
    if brand_id is not None:
        stmt = stmt.where(Qualification.brand_id == brand_id)
    if user_id is not None:
        stmt = stmt.where(Qualification.user_id == user_id)
    rows = await session.scalars(
        stmt.order_by(Qualification.submitted_at, Qualification.id).limit(limit)
    )
    return [_qualification_out(r) for r in rows]


async def review_qualification(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    qualification_id: int,
    body: ReviewIn,
) -> QualificationOut:
    """pending -> approved | rejected (operators); the decision goes to the audit log."""
    _require_operator(actor)
    row = await session.get(Qualification, qualification_id)
    if row is None:
        raise QualificationNotFound(
            "qualification not found", details={"qualification_id": qualification_id}
        )
    if row.status != "pending":
        raise ReviewTransitionInvalid(
            f"a {row.status} qualification cannot be reviewed again",
            details={"qualification_id": row.id, "status": row.status},
        )
    row.status = "approved" if body.decision == "approve" else "rejected"
    row.reviewer_id = actor.id
    row.review_note = body.note
    row.reviewed_at = clock.now()
    await session.flush()
    await _audit(
        session,
        now=clock.now(),
        actor=actor,
        action=f"qualification_{row.status}",
        subject_kind=row.subject,
        subject_id=(row.brand_id if row.subject == "brand" else row.user_id) or 0,
        reason=body.note,
        details={"qualification_id": row.id, "kind": row.kind},
    )
    return _qualification_out(row)


# product selection and quality inspection


async def _selection(session: AsyncSession, selection_id: int) -> ProductSelection:
    row = await session.get(ProductSelection, selection_id)
    if row is None:
        raise SelectionNotFound("selection not found", details={"selection_id": selection_id})
    return row


async def _latest_selection(session: AsyncSession, product_id: int) -> ProductSelection | None:
    return await session.scalar(
        select(ProductSelection)
        .where(ProductSelection.product_id == product_id)
        .order_by(ProductSelection.id.desc())
        .limit(1)
    )


async def _selection_out(session: AsyncSession, row: ProductSelection) -> SelectionOut:
    inspections = await session.scalars(
        select(QualityInspection)
        .where(QualityInspection.selection_id == row.id)
        .order_by(QualityInspection.id)
    )
    out = SelectionOut.model_validate(row)
    out.inspections = [InspectionOut.model_validate(i) for i in inspections]
    return out


async def is_approved_for_live(session: AsyncSession, *, product_id: int) -> bool:
    """Whether the product's latest selection record is approved."""
    latest = await _latest_selection(session, product_id)
    return latest is not None and latest.status == "approved"


async def submit_for_live(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    product_id: int,
    brand_id: int,
    note: str = "",
) -> SelectionOut:
    """A merchant of the product's brand submits it for live selling (status submitted)."""
    if brand_id not in actor.brand_ids:
        raise PermissionDenied(
            "only the brand's merchants submit its products",
            code="not_brand_member",
            details={"brand_id": brand_id},
        )
    latest = await _latest_selection(session, product_id)
    if latest is not None and latest.status in _OPEN_SELECTION:
        raise SelectionAlreadyOpen(
            f"the product is already {latest.status} in selection",
            details={"selection_id": latest.id, "status": latest.status},
        )
    row = ProductSelection(
        product_id=product_id,
        brand_id=brand_id,
        status="submitted",
        note=note,
        submitted_by=actor.id,
        submitted_at=clock.now(),
        reason="",
    )
    session.add(row)
    await session.flush()
    return await _selection_out(session, row)


async def decide_selection(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    selection_id: int,
    body: SelectionDecisionIn,
) -> SelectionOut:
    """An operator's decision: select (submitted), approve (inspected), reject (any open)."""
    _require_operator(actor)
    row = await _selection(session, selection_id)
    sources, target = _SELECTION_DECISIONS[body.decision]
    if row.status not in sources:
        raise ReviewTransitionInvalid(
            f"a {row.status} selection cannot be given '{body.decision}'",
            details={"selection_id": row.id, "status": row.status, "decision": body.decision},
        )
    row.status = target
    row.reviewer_id = actor.id
    row.reason = body.reason
    row.decided_at = clock.now()
    await session.flush()
    await _audit(
        session,
        now=clock.now(),
        actor=actor,
        action=f"selection_{target}",
        subject_kind="product",
        subject_id=row.product_id,
        reason=body.reason,
        details={"selection_id": row.id},
    )
    return await _selection_out(session, row)


async def record_inspection(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Identity,
    selection_id: int,
    body: InspectionIn,
) -> SelectionOut:
    """Record a quality inspection of a selected product: passed -> inspected (ready for
    approval), failed -> rejected with the findings as the reason."""
    _require_operator(actor)
    row = await _selection(session, selection_id)
    if row.status not in {"selected", "inspected"}:
        raise ReviewTransitionInvalid(
            f"a {row.status} selection cannot be inspected",
            details={"selection_id": row.id, "status": row.status, "decision": "inspect"},
        )
    now = clock.now()
    inspection = QualityInspection(
        selection_id=row.id,
        product_id=row.product_id,
        sample_id=body.sample_id,
        findings=body.findings,
        photos=list(body.photos),
        passed=body.passed,
        inspector_id=actor.id,
        inspected_at=now,
    )
    session.add(inspection)
    row.status = "inspected" if body.passed else "rejected"
    row.reviewer_id = actor.id
    row.decided_at = now
    if not body.passed:
        row.reason = f"quality inspection failed: {body.findings}"
    await session.flush()
    await _audit(
        session,
        now=clock.now(),
        actor=actor,
        action="selection_inspection_passed" if body.passed else "selection_inspection_failed",
        subject_kind="product",
        subject_id=row.product_id,
        reason=body.findings,
        details={
            "selection_id": row.id,
            "inspection_id": inspection.id,
            "sample_id": body.sample_id,
        },
    )
    return await _selection_out(session, row)


async def get_selection(
    session: AsyncSession, *, actor: Identity, selection_id: int
) -> SelectionOut:
    """One selection record with its inspections (operators, the brand's merchants)."""
    row = await _selection(session, selection_id)
    if not (actor.is_operator or row.brand_id in actor.brand_ids):
        raise SelectionNotFound("selection not found", details={"selection_id": selection_id})
    return await _selection_out(session, row)


async def list_selections(
    session: AsyncSession,
    *,
    actor: Identity,
    status: SelectionStatus | None = None,
    product_id: int | None = None,
    limit: int = 200,
) -> list[SelectionOut]:
    """Selection records the caller may see (operators: all; merchants: their brands')."""
    stmt = select(ProductSelection)
    if not actor.is_operator:
        stmt = stmt.where(ProductSelection.brand_id.in_(sorted(actor.brand_ids)))
    if status is not None:
        stmt = stmt.where(ProductSelection.status == status)
    if product_id is not None:
        stmt = stmt.where(ProductSelection.product_id == product_id)
    rows = await session.scalars(
        stmt.order_by(ProductSelection.submitted_at, ProductSelection.id).limit(limit)
    )
    return [await _selection_out(session, r) for r in rows]


async def latest_inspection(session: AsyncSession, *, product_id: int) -> InspectionOut | None:
    """The product's most recent quality inspection (findings for knowledge cards), or None."""
    row = await session.scalar(
        select(QualityInspection)
        .where(QualityInspection.product_id == product_id)
        .order_by(QualityInspection.inspected_at.desc(), QualityInspection.id.desc())
        .limit(1)
    )
    return None if row is None else InspectionOut.model_validate(row)


async def qualification_personal_data(session: AsyncSession, user_id: int) -> PersonalRows:
    """An anchor's own identity records (privacy export)."""
    return await accounts.collect_rows(
        session,
        {"qualifications": select(Qualification.__table__).where(Qualification.user_id == user_id)},
    )


async def erase_qualification_personal_data(session: AsyncSession, user_id: int) -> None:
    """For a deleted account: identity numbers, dates of birth and documents erased. The
    record stays (an operator's decision refers to it) but no longer qualifies anyone."""
    await session.execute(
        update(Qualification)
        .where(Qualification.user_id == user_id)
        .values(number="", issuer="", date_of_birth=None, document_ref=None, review_note="")
    )


# records reviewed elsewhere (the demo world, test set-up, imports from a former system)


async def record_reviewed_qualification(
    session: AsyncSession,
    *,
    clock: Clock,
    subject_id: int,
    body: QualificationIn,
    note: str = "reviewed before import",
) -> QualificationOut:
    """File an already approved record for an anchor (`subject_id` a user id) or a brand
    (`body.brand_id`); no reviewer, no audit entry: the decision was not taken here."""
    anchor = body.kind not in BRAND_KINDS
    now = clock.now()
    row = Qualification(
        subject="anchor" if anchor else "brand",
        brand_id=None if anchor else body.brand_id,
        user_id=subject_id if anchor else None,
        kind=body.kind,
        number=body.number,
        issuer=body.issuer,
        valid_from=body.valid_from,
        expires_on=body.expires_on,
        categories=list(body.categories),
        date_of_birth=body.date_of_birth,
        document_ref=body.document_ref,
        status="approved",
        submitted_by=None,
        submitted_at=now,
        review_note=note,
        reviewed_at=now,
    )
    session.add(row)
    await session.flush()
    return _qualification_out(row)


async def record_approved_for_live(
    session: AsyncSession,
    *,
    clock: Clock,
    product_id: int,
    brand_id: int,
    findings: str = "sample matches the listing",
    sample_id: str = "imported",
) -> SelectionOut:
    """File a product as approved for live with a passed inspection, reviewed elsewhere;
    no-op when its latest selection is approved already."""
    latest = await _latest_selection(session, product_id)
    if latest is not None and latest.status == "approved":
        return await _selection_out(session, latest)
    now = clock.now()
    row = ProductSelection(
        product_id=product_id,
        brand_id=brand_id,
        status="approved",
        note="",
        submitted_at=now,
        reason="reviewed before import",
        decided_at=now,
    )
    session.add(row)
    await session.flush()
    session.add(
        QualityInspection(
            selection_id=row.id,
            product_id=product_id,
            sample_id=sample_id,
            findings=findings,
            photos=[],
            passed=True,
            inspected_at=now,
        )
    )
    await session.flush()
    return await _selection_out(session, row)


# ------------------------------------------------ end of qualifications and selection (E)


# ---------------------------------------------------------------- sanctions and risk (issue 5, F)
# The audit log, sanctions and appeals, consumer reports, risk scores and the overturn alert
# live in their own modules (sanctions.py, reports.py, risk.py, overturn.py); other domains,
# the API and the pages reach them through these names.
from livecart.supervision.overturn import recent_alerts as recent_alerts  # noqa: E402
from livecart.supervision.overturn import record_complaint as record_complaint  # noqa: E402
from livecart.supervision.overturn import watch_chat as watch_chat  # noqa: E402
from livecart.supervision.reports import file_report as file_report  # noqa: E402
from livecart.supervision.reports import list_reports as list_reports  # noqa: E402
from livecart.supervision.reports import triage_report as triage_report  # noqa: E402
from livecart.supervision.risk import apply_thresholds as apply_thresholds  # noqa: E402
from livecart.supervision.risk import (  # noqa: E402
    recent_compliance_hits as recent_compliance_hits,
)
from livecart.supervision.risk import risk_score as risk_score  # noqa: E402
from livecart.supervision.risk import risk_scores as risk_scores  # noqa: E402
from livecart.supervision.risk_signals import (  # noqa: E402
    detect_bot_activity as detect_bot_activity,
)
from livecart.supervision.risk_signals import keep_refusal as keep_refusal  # noqa: E402
from livecart.supervision.risk_signals import (  # noqa: E402
    record_anchor_warnings as record_anchor_warnings,
)
from livecart.supervision.risk_signals import (  # noqa: E402
    record_chat_refusal as record_chat_refusal,
)
from livecart.supervision.risk_signals import (  # noqa: E402
    record_product_warnings as record_product_warnings,
)
from livecart.supervision.sanctions import Standing as Standing  # noqa: E402
from livecart.supervision.sanctions import appeal_sanction as appeal_sanction  # noqa: E402
from livecart.supervision.sanctions import audit_log as audit_log  # noqa: E402
from livecart.supervision.sanctions import decide_appeal as decide_appeal  # noqa: E402
from livecart.supervision.sanctions import enforce as enforce  # noqa: E402
from livecart.supervision.sanctions import (  # noqa: E402
    erase_sanction_personal_data as erase_sanction_personal_data,
)
from livecart.supervision.sanctions import get_sanction as get_sanction  # noqa: E402
from livecart.supervision.sanctions import impose_sanction as impose_sanction  # noqa: E402
from livecart.supervision.sanctions import lift_sanction as lift_sanction  # noqa: E402
from livecart.supervision.sanctions import list_sanctions as list_sanctions  # noqa: E402
from livecart.supervision.sanctions import record_audit as record_audit  # noqa: E402
from livecart.supervision.sanctions import (  # noqa: E402
    sanction_personal_data as sanction_personal_data,
)
from livecart.supervision.sanctions import standing as standing  # noqa: E402
