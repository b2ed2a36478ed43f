"""REST routes of marketing: segments, stages, campaigns and reports (operators); the inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from livecart.accounts.dependencies import CurrentUser, Operator, OptionalUser
from livecart.core.http import ContainerDep, UoW
from livecart.insights.portrait_query import field_menu
from livecart.marketing import coupons, service
from livecart.marketing.recommendations import Recommendations
from livecart.marketing.schemas import (
    CampaignIn,
    CampaignOut,
    CountOut,
    CouponOut,
    DeliveryOut,
    FieldOut,
    InviteeOut,
    InviteIn,
    MessageOut,
    ReportOut,
    RuleIn,
    RunOut,
    SegmentIn,
    SegmentOut,
    StageCountOut,
    StageFlowOut,
    StageRunOut,
)

router = APIRouter(tags=["marketing"])


# ---------------------------------------------------------------- segments


@router.get(
    "/marketing/fields",
    response_model=list[FieldOut],
    summary="Portrait fields a segment rule may use (operator)",
)
async def list_fields(actor: Operator) -> list[FieldOut]:
    return [FieldOut.model_validate(f) for f in field_menu()]


@router.post(
    "/marketing/segments/count",
    response_model=CountOut,
    summary="Count the consumers a draft rule matches (operator)",
)
async def count_rule(body: RuleIn, actor: Operator, uow: UoW) -> CountOut:
    return await service.count_rule(uow.session, actor=actor, rule=body.rule)


@router.get(
    "/marketing/segments", response_model=list[SegmentOut], summary="Saved segments (operator)"
)
async def list_segments(actor: Operator, uow: UoW) -> list[SegmentOut]:
    return await service.list_segments(uow.session, actor=actor)


@router.post(
    "/marketing/segments",
    status_code=201,
    response_model=SegmentOut,
    summary="Save a segment (operator)",
)
async def create_segment(
    body: SegmentIn, actor: Operator, uow: UoW, container: ContainerDep
) -> SegmentOut:
    out = await service.create_segment(uow.session, clock=container.clock, actor=actor, data=body)
    await uow.commit()
    return out


@router.get(
    "/marketing/segments/{segment_id}",
    response_model=SegmentOut,
    summary="One segment with its size (operator)",
)
async def get_segment(segment_id: int, actor: Operator, uow: UoW) -> SegmentOut:
    return await service.get_segment(uow.session, actor=actor, segment_id=segment_id)


@router.put(
    "/marketing/segments/{segment_id}",
    response_model=SegmentOut,
    summary="Replace a segment's rule (operator)",
)
async def update_segment(
    segment_id: int, body: SegmentIn, actor: Operator, uow: UoW, container: ContainerDep
) -> SegmentOut:
    out = await service.update_segment(
        uow.session, clock=container.clock, actor=actor, segment_id=segment_id, data=body
    )
    await uow.commit()
    return out


@router.delete(
    "/marketing/segments/{segment_id}", status_code=204, summary="Delete a segment (operator)"
)
async def delete_segment(segment_id: int, actor: Operator, uow: UoW) -> Response:
    await service.delete_segment(uow.session, actor=actor, segment_id=segment_id)
    await uow.commit()
    return Response(status_code=204)


@router.get(
    "/marketing/segments/{segment_id}/export.csv",
    summary="A segment's members as CSV: user id and scores (operator)",
    response_class=Response,
)
async def export_segment(segment_id: int, actor: Operator, uow: UoW) -> Response:
    text = await service.export_segment_csv(uow.session, actor=actor, segment_id=segment_id)
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="segment-{segment_id}.csv"'},
    )


# ---------------------------------------------------------------- stages


@router.get(
    "/marketing/stages",
    response_model=list[StageCountOut],
    summary="Consumers per stage of each track (operator)",
)
async def stage_counts(
    actor: Operator, uow: UoW, track: Annotated[str | None, Query(max_length=64)] = None
) -> list[StageCountOut]:
    return await service.stage_counts(uow.session, actor=actor, track=track)


@router.get(
    "/marketing/stages/flows",
    response_model=list[StageFlowOut],
    summary="Moves between the stages of a track (operator)",
)
async def stage_flows(
    actor: Operator,
    uow: UoW,
    track: Annotated[str, Query(max_length=64)] = service.LIFECYCLE,
) -> list[StageFlowOut]:
    return await service.stage_flows(uow.session, actor=actor, track=track)


@router.post(
    "/marketing/stages/run",
    response_model=StageRunOut,
    summary="Move consumers between stages by the rules now (operator)",
)
async def run_stages(actor: Operator, uow: UoW, container: ContainerDep) -> StageRunOut:
    out = await service.run_stages(uow.session, clock=container.clock)
    await uow.commit()
    return out


# ---------------------------------------------------------------- campaigns


@router.get(
    "/marketing/campaigns", response_model=list[CampaignOut], summary="Campaigns (operator)"
)
async def list_campaigns(actor: Operator, uow: UoW) -> list[CampaignOut]:
    return await service.list_campaigns(uow.session, actor=actor)


@router.post(
    "/marketing/campaigns",
    status_code=201,
    response_model=CampaignOut,
    summary="Draft a campaign for a segment or a stage (operator)",
)
async def create_campaign(
    body: CampaignIn, actor: Operator, uow: UoW, container: ContainerDep
) -> CampaignOut:
    out = await service.create_campaign(uow.session, clock=container.clock, actor=actor, data=body)
    await uow.commit()
    return out


@router.get(
    "/marketing/campaigns/{campaign_id}",
    response_model=CampaignOut,
    summary="One campaign (operator)",
)
async def get_campaign(campaign_id: int, actor: Operator, uow: UoW) -> CampaignOut:
    return await service.get_campaign(uow.session, actor=actor, campaign_id=campaign_id)


@router.post(
    "/marketing/campaigns/{campaign_id}/run",
    response_model=RunOut,
    summary="Send a draft campaign, keeping its holdout (operator)",
)
async def run_campaign(
    campaign_id: int, actor: Operator, uow: UoW, container: ContainerDep
) -> RunOut:
    out = await service.run_campaign(
        uow,
        clock=container.clock,
        actor=actor,
        campaign_id=campaign_id,
        outbox=container.outbox,
        base_url=container.settings.base_url,
    )
    await uow.commit()
    return out


@router.post(
    "/marketing/emails/deliver",
    response_model=DeliveryOut,
    summary="Send the queued e-mails that are due now (operator)",
    description=(
        "Campaign e-mails are queued with the campaign and sent after it commits, in the "
        "background (the run does not wait for the mail server); those a mail server did not "
        "take are tried again by the e-mail job (LIVECART_MARKETING_EMAIL_SECONDS), up to 6 "
        "tries, and a permanent refusal (5xx) fails at once. This sends what is due now, of one "
        "campaign (`campaign_id`) or all. 409 `smtp_not_configured` without LIVECART_SMTP_HOST."
    ),
)
async def deliver_emails(
    actor: Operator, container: ContainerDep, campaign_id: int | None = None
) -> DeliveryOut:
    return await service.deliver_emails(
        actor=actor, outbox=container.outbox, campaign_id=campaign_id
    )


@router.post(
    "/marketing/campaigns/{campaign_id}/measure",
    response_model=ReportOut,
    summary="Read outcomes from the event log, then report (operator)",
)
async def measure_campaign(
    campaign_id: int, actor: Operator, uow: UoW, container: ContainerDep
) -> ReportOut:
    await container.events.flush()
    out = await service.measure_campaign(
        uow.session,
        clock=container.clock,
        actor=actor,
        campaign_id=campaign_id,
        event_log_dir=container.settings.event_log_dir,
    )
    await uow.commit()
    return out


@router.get(
    "/marketing/campaigns/{campaign_id}/report",
    response_model=ReportOut,
    summary="Uplift of treated over holdout with 95% intervals (operator)",
)
async def campaign_report(campaign_id: int, actor: Operator, uow: UoW) -> ReportOut:
    return await service.campaign_report(uow.session, actor=actor, campaign_id=campaign_id)


# ---------------------------------------------------------------- pre-live targeting


@router.get(
    "/marketing/sessions/{session_id}/invitees",
    response_model=list[InviteeOut],
    summary="Consumers most likely to attend a scheduled session and buy (operator)",
)
async def rank_invitees(
    session_id: int, actor: Operator, uow: UoW, top: Annotated[int, Query(ge=1, le=5000)] = 50
) -> list[InviteeOut]:
    return await service.rank_for_session(uow.session, actor=actor, session_id=session_id, top=top)


@router.post(
    "/marketing/sessions/{session_id}/invitations",
    response_model=RunOut,
    summary="Invite the top consumers to a scheduled session (operator)",
)
async def invite(
    session_id: int, body: InviteIn, actor: Operator, uow: UoW, container: ContainerDep
) -> RunOut:
    out = await service.invite_for_session(
        uow,
        clock=container.clock,
        actor=actor,
        session_id=session_id,
        top=body.top,
        subject=body.subject,
        body=body.body,
        holdout_percent=body.holdout_percent,
        base_url=container.settings.base_url,
    )
    await uow.commit()
    return out


# ---------------------------------------------------------------- inbox


@router.get(
    "/me/messages", response_model=list[MessageOut], summary="My in-app messages (signed in)"
)
async def my_messages(
    actor: CurrentUser, uow: UoW, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[MessageOut]:
    return await service.my_messages(uow.session, actor=actor, limit=limit)


@router.post(
    "/me/messages/{message_id}/read",
    response_model=MessageOut,
    summary="Mark one of my messages read (signed in)",
)
async def mark_read(
    message_id: int, actor: CurrentUser, uow: UoW, container: ContainerDep
) -> MessageOut:
    out = await service.mark_read(
        uow.session, clock=container.clock, actor=actor, message_id=message_id
    )
    await uow.commit()
    return out


@router.get(
    "/me/coupons",
    response_model=list[CouponOut],
    summary="My coupons, usable ones first (signed in)",
    description="Each coupon with its terms (fixed amount or percent, minimum spend, brand or "
    "product scope, expiry) and its state: available, redeemed (with the order and the "
    "discount) or expired. `usable=true` lists only those a checkout can take now.",
)
async def my_coupons(
    actor: CurrentUser, uow: UoW, container: ContainerDep, usable: bool = False
) -> list[CouponOut]:
    return await coupons.my_coupons(
        uow.session, actor=actor, now=container.clock.now(), usable_only=usable
    )


# ---------------------------------------------------------------- recommendations


@router.get(
    "/recommendations",
    response_model=Recommendations,
    summary="Live rooms and products for the caller (anyone; personalised only with consent)",
)
async def get_recommendations(
    actor: OptionalUser,
    uow: UoW,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 12,
) -> Recommendations:
    return await service.recommend(
        uow.session,
        log_root=container.settings.event_log_dir,
        now=container.clock.now(),
        actor=actor,
        limit=limit,
    )
