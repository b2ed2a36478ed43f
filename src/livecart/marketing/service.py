"""Marketing logic: segments, stage tracks, campaigns with a holdout, uplift, pre-live invitations.

Targeting reads portraits only for consumers who allow personalisation: every audience is
filtered through `accounts.service.opted_out_among` in the unit of work that sends, so a
consumer who switched personalisation off gets no targeted message, by any channel, from the
next request on. E-mails are queued with the campaign and sent after commit by the outbox
(`marketing.delivery`), which checks the consent again before every try.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.accounts import service as accounts
from livecart.accounts.schemas import Identity, PersonalRows
from livecart.core.clock import Clock
from livecart.core.db import UnitOfWork
from livecart.core.errors import PermissionDenied
from livecart.events import service as events
from livecart.events.errors import EventLogEmpty
from livecart.insights import portrait_query
from livecart.insights.portrait_query import (
    AffinityCondition,
    FieldCondition,
    Op,
    RuleGroup,
)
from livecart.live import service as live
from livecart.live.schemas import SessionStatus
from livecart.marketing import coupons, delivery, recommendations, uplift
from livecart.marketing.delivery import Outbox, email_counts
from livecart.marketing.errors import (
    CampaignAlreadySent,
    CampaignNotFound,
    CampaignNotSent,
    InvalidAudience,
    InvalidRule,
    MessageNotFound,
    SegmentNotFound,
    SessionNotUpcoming,
    SmtpNotConfigured,
)
from livecart.marketing.models import (
    Campaign,
    CampaignAssignment,
    ConsumerStage,
    Coupon,
    Message,
    Segment,
    StageTransition,
)
from livecart.marketing.schemas import (
    Action,
    Arm,
    ArmOut,
    CampaignIn,
    CampaignOut,
    CampaignStatus,
    CountOut,
    CouponKind,
    DeliveryOut,
    EmailBacklogOut,
    IntervalOut,
    InviteeOut,
    MessageOut,
    ReportOut,
    RunOut,
    SegmentIn,
    SegmentOut,
    StageCountOut,
    StageFlowOut,
    StageRunOut,
)

log = logging.getLogger(__name__)

LIFECYCLE = "lifecycle"
BRAND_TRACK_PREFIX = "brand:"


def _require_operator(actor: Identity) -> None:
    if not actor.is_operator:
        raise PermissionDenied("marketing is for operators")


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def rule_of(data: Mapping[str, Any]) -> RuleGroup:
    """A validated rule tree from stored or given JSON; invalid_segment_rule otherwise."""
    try:
        return portrait_query.parse_rule(dict(data))
    except (ValidationError, ValueError) as exc:
        raise InvalidRule("the segment rule is not valid", details={"reason": str(exc)}) from exc


# ---------------------------------------------------------------- segments


async def count_rule(session: AsyncSession, *, actor: Identity, rule: RuleGroup) -> CountOut:
    """How many consumers a (draft) rule matches now."""
    _require_operator(actor)
    rule = rule_of(rule.model_dump(exclude_none=True))
    query = portrait_query.count_query(rule, dialect=_dialect(session))
    return CountOut(count=int(await session.scalar(query) or 0))


def _segment_out(segment: Segment, size: int | None = None) -> SegmentOut:
    out = SegmentOut.model_validate(segment)
    out.size = size
    return out


async def _segment(session: AsyncSession, segment_id: int) -> Segment:
    segment = await session.get(Segment, segment_id)
    if segment is None:
        raise SegmentNotFound("segment not found", details={"segment_id": segment_id})
    return segment


async def create_segment(
    session: AsyncSession, *, clock: Clock, actor: Identity, data: SegmentIn
) -> SegmentOut:
    """Save a segment rule."""
    _require_operator(actor)
    rule = rule_of(data.rule.model_dump(exclude_none=True))
    now = clock.now()
    segment = Segment(
        name=data.name,
        description=data.description,
        rule=rule.model_dump(exclude_none=True, mode="json"),
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(segment)
    await session.flush()
    return _segment_out(segment, await _size(session, segment))


async def update_segment(
    session: AsyncSession, *, clock: Clock, actor: Identity, segment_id: int, data: SegmentIn
) -> SegmentOut:
    """Replace a segment's name, description and rule."""
    _require_operator(actor)
    segment = await _segment(session, segment_id)
    rule = rule_of(data.rule.model_dump(exclude_none=True))
    segment.name = data.name
    segment.description = data.description
    segment.rule = rule.model_dump(exclude_none=True, mode="json")
    segment.updated_at = clock.now()
    await session.flush()
    return _segment_out(segment, await _size(session, segment))


async def delete_segment(session: AsyncSession, *, actor: Identity, segment_id: int) -> None:
    """Delete a segment (campaigns that used it keep their assignments)."""
    _require_operator(actor)
    await session.delete(await _segment(session, segment_id))
    await session.flush()


async def _size(session: AsyncSession, segment: Segment) -> int:
    query = portrait_query.count_query(rule_of(segment.rule), dialect=_dialect(session))
    return int(await session.scalar(query) or 0)


async def get_segment(session: AsyncSession, *, actor: Identity, segment_id: int) -> SegmentOut:
    """One segment with its size now."""
    _require_operator(actor)
    segment = await _segment(session, segment_id)
    return _segment_out(segment, await _size(session, segment))


async def list_segments(session: AsyncSession, *, actor: Identity) -> list[SegmentOut]:
    """Saved segments with their sizes now, newest first."""
    _require_operator(actor)
    segments = (await session.scalars(select(Segment).order_by(Segment.id.desc()))).all()
    return [_segment_out(s, await _size(session, s)) for s in segments]


async def segment_members(session: AsyncSession, *, segment_id: int) -> list[int]:
    """User ids in a segment now, ascending (no opt-out filter: the caller applies it)."""
    segment = await _segment(session, segment_id)
    query = portrait_query.members_query(rule_of(segment.rule), dialect=_dialect(session))
    return sorted(int(uid) for uid in await session.scalars(query))


EXPORT_COLUMNS = ("user_id", *portrait_query.EXPORT_FIELDS)


async def export_segment_csv(session: AsyncSession, *, actor: Identity, segment_id: int) -> str:
    """The segment's members as CSV: user id and their scores (no names, no e-mails)."""
    _require_operator(actor)
    segment = await _segment(session, segment_id)
    query = portrait_query.export_query(rule_of(segment.rule), dialect=_dialect(session))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in (await session.execute(query)).all():
        writer.writerow(["" if value is None else value for value in row])
    return out.getvalue()


# ---------------------------------------------------------------- stage tracks


def _rule(*conditions: Any, any_of: bool = False) -> RuleGroup:
    return RuleGroup(any=list(conditions)) if any_of else RuleGroup(all=list(conditions))


def _field(name: str, op: str, value: float) -> FieldCondition:
    return FieldCondition(field=name, op=Op(op), value=value)


# The lifecycle track, first match wins (documented in docs/marketing.md).
LIFECYCLE_RULES: tuple[tuple[str, RuleGroup], ...] = (
    (
        "lapsing",
        _rule(
            _field("orders", ">=", 1),
            _rule(_field("recency_days", ">", 60), _field("p_alive", "<", 0.3), any_of=True),
        ),
    ),
    ("loyal", _rule(_field("orders", ">=", 3), _field("recency_days", "<=", 60))),
    ("converted", _rule(_field("orders", ">=", 1))),
    (
        "engaged",
        _rule(
            _field("sessions_watched", ">=", 2),
            _field("messages", ">=", 3),
            _field("carts", ">=", 1),
            any_of=True,
        ),
    ),
    ("new", _rule()),
)
LIFECYCLE_STAGES = ("new", "engaged", "converted", "loyal", "lapsing")
# A brand track per brand key in the affinities: first match wins.
BRAND_STAGES: tuple[tuple[str, str, float], ...] = (
    ("devoted", ">=", 0.8),
    ("keen", ">=", 0.5),
    ("aware", ">", 0.0),
)


def brand_rules(key: str) -> tuple[tuple[str, RuleGroup], ...]:
    """The stage rules of the track of one brand (its affinity score)."""
    return tuple(
        (stage, _rule(AffinityCondition(affinity="brand", key=key, op=Op(op), value=value)))
        for stage, op, value in BRAND_STAGES
    )


async def _track_stages(
    session: AsyncSession, rules: Sequence[tuple[str, RuleGroup]]
) -> dict[int, str]:
    placed: dict[int, str] = {}
    for stage, rule in rules:
        for uid in await session.scalars(
            portrait_query.members_query(rule, dialect=_dialect(session))
        ):
            placed.setdefault(int(uid), stage)
    return placed


async def _move(
    session: AsyncSession, *, track: str, placed: Mapping[int, str], now: datetime
) -> int:
    current = {
        row.user_id: row
        for row in await session.scalars(select(ConsumerStage).where(ConsumerStage.track == track))
    }
    moves = 0
    for uid, stage in placed.items():
        row = current.get(uid)
        if row is not None and row.stage == stage:
            continue
        session.add(
            StageTransition(
                user_id=uid,
                track=track,
                from_stage=None if row is None else row.stage,
                to_stage=stage,
                moved_at=now,
            )
        )
        if row is None:
            session.add(ConsumerStage(user_id=uid, track=track, stage=stage, entered_at=now))
        else:
            row.stage, row.entered_at = stage, now
        moves += 1
    gone = [uid for uid in current if uid not in placed]
    if gone:
        await session.execute(
            delete(ConsumerStage).where(
                ConsumerStage.track == track, ConsumerStage.user_id.in_(gone)
            )
        )
    await session.flush()
    return moves


async def run_stages(session: AsyncSession, *, clock: Clock) -> StageRunOut:
    """Place every portrayed consumer on the lifecycle track and their brands' tracks; each
    change of stage is recorded as a transition. A job: the caller commits."""
    now = clock.now()
    tracks: list[tuple[str, Sequence[tuple[str, RuleGroup]]]] = [(LIFECYCLE, LIFECYCLE_RULES)]
    keys = await session.scalars(portrait_query.affinity_keys_query("brand"))
    tracks.extend((BRAND_TRACK_PREFIX + key, brand_rules(key)) for key in keys)
    moves = 0
    consumers: set[int] = set()
    for track, rules in tracks:
        placed = await _track_stages(session, rules)
        consumers.update(placed)
        moves += await _move(session, track=track, placed=placed, now=now)
    return StageRunOut(tracks=len(tracks), consumers=len(consumers), moves=moves)


async def run_stage_job(open_uow: Callable[[], UnitOfWork], *, clock: Clock) -> StageRunOut:
    """The periodic stage job: one run in its own unit of work."""
    async with open_uow() as uow:
        out = await run_stages(uow.session, clock=clock)
        await uow.commit()
        return out


async def stage_counts(
    session: AsyncSession, *, actor: Identity, track: str | None = None
) -> list[StageCountOut]:
    """Consumers per stage of each track (or one)."""
    _require_operator(actor)
    query = select(ConsumerStage.track, ConsumerStage.stage, func.count()).group_by(
        ConsumerStage.track, ConsumerStage.stage
    )
    if track is not None:
        query = query.where(ConsumerStage.track == track)
    rows = (await session.execute(query.order_by(ConsumerStage.track))).all()
    return [StageCountOut(track=t, stage=s, consumers=n) for t, s, n in rows]


async def stage_flows(
    session: AsyncSession,
    *,
    actor: Identity,
    track: str = LIFECYCLE,
    since: datetime | None = None,
) -> list[StageFlowOut]:
    """Moves between stages of a track (entries have no from_stage), for a sankey chart."""
    _require_operator(actor)
    query = (
        select(StageTransition.from_stage, StageTransition.to_stage, func.count())
        .where(StageTransition.track == track)
        .group_by(StageTransition.from_stage, StageTransition.to_stage)
    )
    if since is not None:
        query = query.where(StageTransition.moved_at >= since)
    rows = (await session.execute(query)).all()
    return [StageFlowOut(track=track, from_stage=a, to_stage=b, moves=n) for a, b, n in rows]


async def tracks_of(session: AsyncSession, *, user_id: int) -> dict[str, str]:
    """The stage of a consumer on each track they are on."""
    rows = await session.scalars(select(ConsumerStage).where(ConsumerStage.user_id == user_id))
    return {row.track: row.stage for row in rows}


# ---------------------------------------------------------------- campaigns


def holdout_bucket(campaign_id: int, user_id: int) -> int:
    """A stable number 0..9999 from the campaign and the user (same arm on every run)."""
    digest = hashlib.sha256(f"{campaign_id}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000


def arm_of(campaign_id: int, user_id: int, holdout_percent: int) -> Arm:
    """Treated or holdout: a deterministic hash, so re-running never moves anyone."""
    in_holdout = holdout_bucket(campaign_id, user_id) < holdout_percent * 100
    return Arm.holdout if in_holdout else Arm.treated


async def _campaign(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignNotFound("campaign not found", details={"campaign_id": campaign_id})
    return campaign


async def _upcoming(session: AsyncSession, session_id: int) -> int:
    """The anchor of an upcoming session, or session_not_upcoming."""
    origin = await live.session_origin(session, session_id)
    if origin.status is not SessionStatus.scheduled:
        raise SessionNotUpcoming(
            "invitations are for scheduled sessions", details={"session_id": session_id}
        )
    return origin.anchor_id


async def create_campaign(
    session: AsyncSession, *, clock: Clock, actor: Identity, data: CampaignIn
) -> CampaignOut:
    """A draft campaign: an action for a segment or a stage, with its holdout share."""
    _require_operator(actor)
    if data.segment_id is not None:
        await _segment(session, data.segment_id)
    if data.track is not None and data.track == LIFECYCLE and data.stage not in LIFECYCLE_STAGES:
        raise InvalidAudience("unknown lifecycle stage", details={"stages": list(LIFECYCLE_STAGES)})
    if data.session_id is not None:
        await _upcoming(session, data.session_id)
    campaign = Campaign(
        **data.model_dump(),
        status=CampaignStatus.draft.value,
        created_by=actor.id,
        created_at=clock.now(),
    )
    session.add(campaign)
    await session.flush()
    return CampaignOut.model_validate(campaign)


async def _campaigns_out(session: AsyncSession, campaigns: list[Campaign]) -> list[CampaignOut]:
    emails = await email_counts(session, [c.id for c in campaigns])
    return [
        CampaignOut.model_validate(c).model_copy(update={"emails_by_status": emails.get(c.id, {})})
        for c in campaigns
    ]


async def get_campaign(session: AsyncSession, *, actor: Identity, campaign_id: int) -> CampaignOut:
    """One campaign (with its e-mails per status)."""
    _require_operator(actor)
    (out,) = await _campaigns_out(session, [await _campaign(session, campaign_id)])
    return out


async def list_campaigns(session: AsyncSession, *, actor: Identity) -> list[CampaignOut]:
    """Campaigns, newest first."""
    _require_operator(actor)
    rows = await session.scalars(select(Campaign).order_by(Campaign.id.desc()))
    return await _campaigns_out(session, list(rows))


async def _audience(session: AsyncSession, campaign: Campaign) -> list[int]:
    if campaign.segment_id is not None:
        return await segment_members(session, segment_id=campaign.segment_id)
    if campaign.track is not None and campaign.stage is not None:
        rows = await session.scalars(
            select(ConsumerStage.user_id).where(
                ConsumerStage.track == campaign.track, ConsumerStage.stage == campaign.stage
            )
        )
        return sorted(rows)
    raise InvalidAudience("the campaign names no segment or stage")


def _link(campaign: Campaign, base_url: str) -> str | None:
    if campaign.action == Action.invitation.value and campaign.session_id is not None:
        return f"{base_url.rstrip('/')}/sessions/{campaign.session_id}"
    return None


def _coupon_text(campaign: Campaign) -> str:
    off = (
        f"{campaign.coupon_percent}% off"
        if campaign.coupon_percent
        else f"{(campaign.coupon_amount or 0) / 100:.2f} {campaign.currency} off"
    )
    spend = (
        f" on {campaign.coupon_min_spend / 100:.2f} {campaign.currency} or more"
        if campaign.coupon_min_spend
        else ""
    )
    days = campaign.coupon_valid_days or campaign.window_days
    return (
        f"Coupon {campaign.coupon_code}: {off}{spend}, valid {days} days. "
        "Choose it at checkout (your cart page)."
    )


async def run_campaign(
    uow: UnitOfWork,
    *,
    clock: Clock,
    actor: Identity,
    campaign_id: int,
    outbox: Outbox | None,
    base_url: str,
    audience: Collection[int] | None = None,
) -> RunOut:
    """Send a draft campaign once: its audience minus the consumers who opted out, split into
    treated and holdout; the treated get the message (in the in-app inbox; e-mails are queued
    in the outbox and sent after commit, `marketing.delivery`). `audience`
    replaces the segment or stage (pre-live lists, simulations)."""
    _require_operator(actor)
    session = uow.session
    campaign = await _campaign(session, campaign_id)
    if campaign.status != CampaignStatus.draft.value:
        raise CampaignAlreadySent("a campaign is sent once", details={"campaign_id": campaign_id})
    if campaign.action == Action.email.value and outbox is None:
        raise SmtpNotConfigured("e-mail campaigns need LIVECART_SMTP_HOST")
    if campaign.session_id is not None:
        await _upcoming(session, campaign.session_id)
    people = sorted(set(audience)) if audience is not None else await _audience(session, campaign)
    # The consent is read here, in the sending transaction: a switch made before counts.
    opted_out = await accounts.opted_out_among(session, people)
    eligible = [uid for uid in people if uid not in opted_out]
    now = clock.now()
    treated: list[int] = []
    for uid in eligible:
        arm = arm_of(campaign.id, uid, campaign.holdout_percent)
        session.add(
            CampaignAssignment(campaign_id=campaign.id, user_id=uid, arm=arm.value, assigned_at=now)
        )
        if arm is Arm.treated:
            treated.append(uid)
    link = _link(campaign, base_url)
    body = campaign.body
    if campaign.action == Action.coupon.value and campaign.coupon_code:
        body = (body + "\n\n" if body else "") + _coupon_text(campaign)
        await coupons.issue(
            session,
            campaign_id=campaign.id,
            user_ids=treated,
            code=campaign.coupon_code,
            kind=CouponKind.percent if campaign.coupon_percent else CouponKind.fixed,
            amount=campaign.coupon_amount,
            percent=campaign.coupon_percent,
            min_spend=campaign.coupon_min_spend,
            currency=campaign.currency,
            brand_id=campaign.coupon_brand_id,
            product_id=campaign.coupon_product_id,
            issued_at=now,
            expires_at=now + timedelta(days=campaign.coupon_valid_days or campaign.window_days),
        )
    channel = "email" if campaign.action == Action.email.value else "in_app"
    for uid in treated:
        session.add(
            Message(
                campaign_id=campaign.id,
                user_id=uid,
                channel=channel,
                subject=campaign.subject,
                body=body,
                link=link,
                coupon_code=campaign.coupon_code,
                status="queued" if channel == "email" else "delivered",
                created_at=now,
                next_attempt_at=now if channel == "email" else None,
            )
        )
    campaign.status = CampaignStatus.sent.value
    campaign.sent_at = now
    campaign.opted_out = len(opted_out)
    await session.flush()
    emails = len(treated) if channel == "email" else 0
    if emails and outbox is not None:
        uow.after_commit(partial(outbox.after_campaign, campaign.id))
    return RunOut(
        campaign_id=campaign.id,
        audience=len(people),
        opted_out=len(opted_out),
        treated=len(treated),
        holdout=len(eligible) - len(treated),
        in_app_messages=len(treated) if channel == "in_app" else 0,
        emails=emails,
    )


async def deliver_emails(
    *, actor: Identity, outbox: Outbox | None, campaign_id: int | None = None
) -> DeliveryOut:
    """Send the queued e-mails that are due now, of one campaign or all (the periodic e-mail
    job does the same); each runs in units of work of its own (`marketing.delivery`)."""
    _require_operator(actor)
    if outbox is None:
        raise SmtpNotConfigured("e-mail needs LIVECART_SMTP_HOST")
    return await outbox.deliver(campaign_id=campaign_id)


async def email_backlog(session: AsyncSession, *, now: datetime) -> EmailBacklogOut:
    """The e-mail outbox's backlog (for `GET /metrics`)."""
    return await delivery.backlog(session, now=now)


async def assigned(session: AsyncSession, *, campaign_id: int) -> list[int]:
    """The consumers assigned to a campaign (either arm), ascending."""
    rows = await session.scalars(
        select(CampaignAssignment.user_id)
        .where(CampaignAssignment.campaign_id == campaign_id)
        .order_by(CampaignAssignment.user_id)
    )
    return list(rows)


@dataclass(frozen=True)
class Outcome:
    """What a consumer did in the campaign's window."""

    converted: bool
    gmv: int  # minor units


async def record_outcomes(
    session: AsyncSession,
    *,
    clock: Clock,
    campaign_id: int,
    outcomes: Mapping[int, Outcome],
    source: str,
    note: str | None = None,
) -> int:
    """Store the outcome of each assigned consumer (missing ones: no purchase)."""
    campaign = await _campaign(session, campaign_id)
    if campaign.status == CampaignStatus.draft.value:
        raise CampaignNotSent(
            "the campaign has not been sent", details={"campaign_id": campaign_id}
        )
    rows = await session.scalars(
        select(CampaignAssignment).where(CampaignAssignment.campaign_id == campaign_id)
    )
    count = 0
    for row in rows:
        outcome = outcomes.get(row.user_id, Outcome(converted=False, gmv=0))
        row.converted, row.gmv = outcome.converted, outcome.gmv
        count += 1
    campaign.status = CampaignStatus.measured.value
    campaign.measured_at = clock.now()
    campaign.outcome_source = source
    if note is not None:
        campaign.note = note
    await session.flush()
    return count


OUTCOMES_SQL = """
SELECT consumer_id, count(*) AS payments, coalesce(sum(amount), 0) AS gmv
FROM events
WHERE event_type = 'payment'
  AND consumer_id IN (SELECT unnest(?::BIGINT[]))
  AND occurred_at >= ? AND occurred_at < ?
GROUP BY consumer_id
""".strip()


def _outcomes_from_log(
    root: Path, user_ids: list[int], start: datetime, end: datetime
) -> dict[int, Outcome]:
    if not user_ids:
        return {}
    try:
        connection = events.open_log(root)
    except EventLogEmpty:
        return {}
    with connection:
        rows = connection.execute(OUTCOMES_SQL, [user_ids, start, end]).fetchall()
    return {int(uid): Outcome(converted=n > 0, gmv=int(gmv)) for uid, n, gmv in rows}


async def measure_campaign(
    session: AsyncSession, *, clock: Clock, actor: Identity, campaign_id: int, event_log_dir: Path
) -> ReportOut:
    """Outcomes from the behaviour-event log: payments of each assigned consumer from the send
    to the end of the window (or now, if sooner); then the report."""
    _require_operator(actor)
    campaign = await _campaign(session, campaign_id)
    if campaign.sent_at is None:
        raise CampaignNotSent(
            "the campaign has not been sent", details={"campaign_id": campaign_id}
        )
    end = min(campaign.sent_at + timedelta(days=campaign.window_days), clock.now())
    ids = list(
        await session.scalars(
            select(CampaignAssignment.user_id).where(CampaignAssignment.campaign_id == campaign_id)
        )
    )
    outcomes = await asyncio.to_thread(
        _outcomes_from_log, event_log_dir, ids, campaign.sent_at, end
    )
    await record_outcomes(
        session, clock=clock, campaign_id=campaign_id, outcomes=outcomes, source="events"
    )
    return await campaign_report(session, actor=actor, campaign_id=campaign_id)


def _arm_out(arm: Arm, rows: Sequence[CampaignAssignment]) -> ArmOut:
    measured = [r for r in rows if r.converted is not None]
    n = len(measured)
    converted = sum(1 for r in measured if r.converted)
    gmv = sum(r.gmv or 0 for r in measured)
    return ArmOut(
        arm=arm,
        consumers=len(rows),
        converted=converted,
        conversion_rate=converted / n if n else None,
        gmv=gmv,
        gmv_per_consumer=gmv / n if n else None,
    )


def _relative(estimate: float | None, base: float | None) -> float | None:
    if estimate is None or not base:
        return None
    return estimate / base


def report_from_rows(campaign: Campaign, rows: Iterable[CampaignAssignment]) -> ReportOut:
    """The uplift report of a campaign from its assignments (outcomes recorded or not)."""
    by_arm: dict[Arm, list[CampaignAssignment]] = {Arm.treated: [], Arm.holdout: []}
    for row in rows:
        by_arm[Arm(row.arm)].append(row)
    treated, holdout = (
        _arm_out(Arm.treated, by_arm[Arm.treated]),
        _arm_out(Arm.holdout, by_arm[Arm.holdout]),
    )
    measured = {arm: [r for r in rs if r.converted is not None] for arm, rs in by_arm.items()}
    conversion = uplift.newcombe_difference(
        treated.converted,
        len(measured[Arm.treated]),
        holdout.converted,
        len(measured[Arm.holdout]),
    )
    gmv = uplift.welch_difference(
        [float(r.gmv or 0) for r in measured[Arm.treated]],
        [float(r.gmv or 0) for r in measured[Arm.holdout]],
    )
    return ReportOut(
        campaign_id=campaign.id,
        name=campaign.name,
        status=CampaignStatus(campaign.status),
        outcome_source=campaign.outcome_source,
        note=campaign.note,
        currency=campaign.currency,
        window_days=campaign.window_days,
        opted_out=campaign.opted_out,
        arms=[treated, holdout],
        conversion_uplift=IntervalOut(
            estimate=conversion.estimate,
            low=conversion.low,
            high=conversion.high,
            method=uplift.NEWCOMBE,
            relative=_relative(conversion.estimate, holdout.conversion_rate),
        ),
        gmv_uplift=IntervalOut(
            estimate=gmv.estimate,
            low=gmv.low,
            high=gmv.high,
            method=uplift.WELCH,
            relative=_relative(gmv.estimate, holdout.gmv_per_consumer),
        ),
    )


async def campaign_report(session: AsyncSession, *, actor: Identity, campaign_id: int) -> ReportOut:
    """Treated versus holdout: conversion and GMV per consumer, uplift with 95% intervals."""
    _require_operator(actor)
    campaign = await _campaign(session, campaign_id)
    rows = (
        await session.scalars(
            select(CampaignAssignment).where(CampaignAssignment.campaign_id == campaign_id)
        )
    ).all()
    report = report_from_rows(campaign, rows)
    if campaign.action == Action.coupon.value:
        report.coupons = await coupons.campaign_counts(session, campaign_id=campaign.id)
    return report


# ---------------------------------------------------------------- pre-live targeting

# Weights of the pre-live score (docs/marketing.md): fan level with the session's anchor,
# past attendance, and the customer-base model's chance to buy.
PRELIVE_WEIGHTS = {"fan": 0.5, "attendance": 0.2, "buy": 0.3}
FAN_LEVEL_CAP = 5
ATTENDANCE_CAP = 10


def prelive_score(
    fan_level: int | None,
    sessions_watched: int | None,
    p_alive: float | None,
    expected_purchases_30d: float | None,
) -> float:
    """0..1: how likely a consumer is to attend this anchor's session and buy in it."""
    fan = min(fan_level or 0, FAN_LEVEL_CAP) / FAN_LEVEL_CAP
    attendance = min(sessions_watched or 0, ATTENDANCE_CAP) / ATTENDANCE_CAP
    buy = (p_alive if p_alive is not None else 0.5) * min(expected_purchases_30d or 0.0, 1.0)
    w = PRELIVE_WEIGHTS
    return w["fan"] * fan + w["attendance"] * attendance + w["buy"] * buy


async def rank_for_session(
    session: AsyncSession, *, actor: Identity, session_id: int, top: int
) -> list[InviteeOut]:
    """The consumers most likely to attend a scheduled session and buy, best first; those who
    opted out are never scored, those who reserved already are left out."""
    _require_operator(actor)
    anchor_id = await _upcoming(session, session_id)
    rows = (await session.execute(portrait_query.prelive_query(anchor_id))).all()
    candidates = [int(row[0]) for row in rows]
    skip = await accounts.opted_out_among(session, candidates)
    skip |= set(await live.reserved_user_ids(session, session_id=session_id))
    ranked = [
        InviteeOut(
            user_id=int(uid),
            score=prelive_score(level, watched, p_alive, expected),
            fan_level=level,
            sessions_watched=watched,
            expected_purchases_30d=expected,
        )
        for uid, level, watched, p_alive, expected in rows
        if int(uid) not in skip and uid != anchor_id
    ]
    ranked.sort(key=lambda i: (-i.score, i.user_id))
    return ranked[:top]


async def invite_for_session(
    uow: UnitOfWork,
    *,
    clock: Clock,
    actor: Identity,
    session_id: int,
    top: int,
    subject: str,
    body: str,
    holdout_percent: int,
    base_url: str,
) -> RunOut:
    """Invite the top consumers to a scheduled session: a campaign of invitations (with the
    reservation link) sent at once, with its holdout."""
    ranked = await rank_for_session(uow.session, actor=actor, session_id=session_id, top=top)
    campaign = Campaign(
        name=f"pre-live invitations, session {session_id}",
        action=Action.invitation.value,
        session_id=session_id,
        subject=subject,
        body=body,
        holdout_percent=holdout_percent,
        window_days=7,
        status=CampaignStatus.draft.value,
        note=f"pre-live targeting: top {len(ranked)} by fan level, attendance and P(buy)",
        created_by=actor.id,
        created_at=clock.now(),
    )
    uow.session.add(campaign)
    await uow.session.flush()
    return await run_campaign(
        uow,
        clock=clock,
        actor=actor,
        campaign_id=campaign.id,
        outbox=None,
        base_url=base_url,
        audience=[i.user_id for i in ranked],
    )


# ---------------------------------------------------------------- inbox


async def my_messages(
    session: AsyncSession, *, actor: Identity, limit: int = 50
) -> list[MessageOut]:
    """The caller's in-app messages, newest first."""
    rows = await session.scalars(
        select(Message)
        .where(Message.user_id == actor.id, Message.channel == "in_app")
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return [MessageOut.model_validate(m) for m in rows]


async def mark_read(
    session: AsyncSession, *, clock: Clock, actor: Identity, message_id: int
) -> MessageOut:
    """Mark one of the caller's messages read (someone else's is not found)."""
    message = await session.get(Message, message_id)
    if message is None or message.user_id != actor.id:
        raise MessageNotFound("message not found", details={"message_id": message_id})
    if message.read_at is None:
        message.read_at = clock.now()
        await session.flush()
    return MessageOut.model_validate(message)


async def messages_for(session: AsyncSession, *, user_ids: Collection[int]) -> list[MessageOut]:
    """Every message (any channel) of these users: what tests and operators check."""
    rows = await session.scalars(select(Message).where(Message.user_id.in_(set(user_ids))))
    return [MessageOut.model_validate(m) for m in rows]


# ---------------------------------------------------------------- privacy


async def personal_data(session: AsyncSession, user_id: int) -> PersonalRows:
    """A consumer's stages, stage moves, campaign arms, messages and coupons (an export)."""
    return await accounts.collect_rows(
        session,
        {
            "consumer_stages": select(ConsumerStage.__table__).where(
                ConsumerStage.user_id == user_id
            ),
            "stage_transitions": select(StageTransition.__table__).where(
                StageTransition.user_id == user_id
            ),
            "campaign_assignments": select(CampaignAssignment.__table__).where(
                CampaignAssignment.user_id == user_id
            ),
            "marketing_messages": select(Message.__table__).where(Message.user_id == user_id),
            "coupons": select(Coupon.__table__).where(Coupon.user_id == user_id),
        },
    )


async def erase_personal_data(session: AsyncSession, user_id: int) -> None:
    """Delete a consumer's stages, moves, campaign arms and messages."""
    for model in (ConsumerStage, StageTransition, CampaignAssignment, Message):
        await session.execute(delete(model).where(model.user_id == user_id))


# ---------------------------------------------------------------- recommendations


async def recommend(
    session: AsyncSession,
    *,
    log_root: Path,
    now: datetime,
    actor: Identity | None,
    limit: int = 12,
) -> recommendations.Recommendations:
    """Live rooms and products for the caller (personalised only with their consent)."""
    return await recommendations.recommend(
        session, log_root=log_root, now=now, actor=actor, limit=limit
    )
