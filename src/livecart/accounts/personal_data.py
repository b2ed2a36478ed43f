"""What personal data the platform holds: every column of every table, classified.

`COLUMNS` names every column of every table in the metadata (`livecart.tables`) and says how it
is handled; a test walks the metadata and fails on any column missing here, so a new column
cannot be forgotten. `OWNERS` says, for each table holding rows about a person, which rows
belong to a user (an SQL condition on `:user_id`): the export returns those rows, the deletion
handles their columns as classified. `EVENT_FIELDS` does the same for the behaviour-event log.

Handling of a column:

- `not_personal`: about no person (catalogue, statistics, settings, technical keys).
- `reference`: a user id in a business record naming who acted (the anchor of a room, the
  operator who granted a role). Kept; after a deletion it points at the pseudonymised user row,
  which is what makes it anonymous. Not exported as the actor's data: it is the business's
  record of staff work.
- `keep`: personal, exported, kept on deletion under the pseudonym (orders, payments: the
  accounts must still add up).
- `erase`: personal, exported, its value replaced or nulled on deletion.
- `delete`: personal, exported, the row is deleted on deletion.
"""

from __future__ import annotations

from enum import StrEnum


class Handling(StrEnum):
    not_personal = "not_personal"
    reference = "reference"
    keep = "keep"
    erase = "erase"
    delete = "delete"


NOT, REF, KEEP, ERASE, DELETE = (
    Handling.not_personal,
    Handling.reference,
    Handling.keep,
    Handling.erase,
    Handling.delete,
)

PERSONAL = frozenset({KEEP, ERASE, DELETE})

# Which rows of a personal table belong to the user `:user_id`.
OWNERS: dict[str, str] = {
    "users": "id = :user_id",
    "role_grants": "user_id = :user_id",
    "chat_messages": "user_id = :user_id",
    "room_sanctions": "user_id = :user_id",
    "session_reservations": "user_id = :user_id",
    "cart_items": "user_id = :user_id",
    "orders": "user_id = :user_id",
    "order_items": "order_id IN (SELECT id FROM orders WHERE user_id = :user_id)",
    "payments": "order_id IN (SELECT id FROM orders WHERE user_id = :user_id)",
    "after_sales_requests": "user_id = :user_id",
    "refunds": "order_id IN (SELECT id FROM orders WHERE user_id = :user_id)",
    "flash_holdings": "user_id = :user_id",
    "flash_reservations": "user_id = :user_id",
    # supervision (F): reports a consumer filed; sanctions they appealed (their appeal's words).
    "supervision_reports": "reporter_id = :user_id",
    "supervision_sanctions": "appeal_by = :user_id",
    "consumer_stages": "user_id = :user_id",
    "stage_transitions": "user_id = :user_id",
    "campaign_assignments": "user_id = :user_id",
    "marketing_messages": "user_id = :user_id",
    "coupons": "user_id = :user_id",
    "consumer_portraits": "user_id = :user_id",
    "consumer_affinities": "user_id = :user_id",
    "fan_levels": "user_id = :user_id",
    "portrait_facts": "user_id = :user_id",
    "portrait_keywords": "user_id = :user_id",
    "service_questions": "asker_id = :user_id",
    "service_tickets": "user_id = :user_id",
    "service_ticket_messages": (
        "ticket_id IN (SELECT id FROM service_tickets WHERE user_id = :user_id)"
    ),
    "qualifications": "user_id = :user_id",
}

# Personal columns left out of the export on purpose, with the reason.
NOT_EXPORTED: dict[tuple[str, str], str] = {
    ("users", "password_hash"): "a secret: exporting the hash would only help someone guess it",
}

COLUMNS: dict[str, dict[str, Handling]] = {
    # accounts: the user row stays (foreign keys hold) with pseudonymous values.
    "users": {
        "id": KEEP,
        "email": ERASE,  # deleted-<random>@deleted.invalid
        "display_name": ERASE,  # deleted-<random>
        "password_hash": ERASE,  # an unusable value: no password matches
        "is_active": KEEP,  # false once deleted
        "created_at": KEEP,
        "personalisation": KEEP,  # false once deleted
        "deleted_at": KEEP,
        "erased_at": KEEP,
    },
    "role_grants": {
        "id": DELETE,
        "user_id": DELETE,
        "role": DELETE,
        "brand_id": DELETE,
        "room_id": DELETE,
        "granted_by": DELETE,
        "created_at": DELETE,
    },
    # catalog: products and prices, no person in them.
    "brands": {"id": NOT, "name": NOT, "description": NOT, "created_at": NOT},
    "products": {
        "id": NOT,
        "brand_id": NOT,
        "title": NOT,
        "description": NOT,
        "category": NOT,
        "attributes": NOT,
        "status": NOT,
        "created_at": NOT,
        "updated_at": NOT,
    },
    "skus": {
        "id": NOT,
        "product_id": NOT,
        "code": NOT,
        "price": NOT,
        "currency": NOT,
        "stock": NOT,
        "attributes": NOT,
        "original_price": NOT,
    },
    "product_media": {
        "id": NOT,
        "product_id": NOT,
        "kind": NOT,
        "url": NOT,
        "path": NOT,
        "content_type": NOT,
        "position": NOT,
        "created_at": NOT,
    },
    "price_history": {
        "id": NOT,
        "sku_id": NOT,
        "old_price": NOT,
        "new_price": NOT,
        "currency": NOT,
        "changed_at": NOT,
        "changed_by": REF,
    },
    # live: rooms and sessions are the anchors' work; chat and sanctions are about a person.
    "rooms": {
        "id": NOT,
        "anchor_id": REF,
        "title": NOT,
        "description": NOT,
        "slow_mode_seconds": NOT,
        "created_at": NOT,
    },
    "live_sessions": {
        "id": NOT,
        "room_id": NOT,
        "anchor_id": REF,
        "title": NOT,
        "status": NOT,
        "scheduled_at": NOT,
        "started_at": NOT,
        "ended_at": NOT,
        "pinned_product_id": NOT,
        "peak_viewers": NOT,
        "watch_seconds": NOT,
        "messages": NOT,
        "likes": NOT,
        "orders": NOT,
        "gmv": NOT,
        "currency": NOT,
        "created_at": NOT,
    },
    "session_cohosts": {
        "id": NOT,
        "session_id": NOT,
        "anchor_id": REF,
        "invited_by": REF,
        "created_at": NOT,
    },
    "showcase_items": {
        "id": NOT,
        "session_id": NOT,
        "product_id": NOT,
        "position": NOT,
        "added_at": NOT,
    },
    # An anchor's script is the business's advertising text (like a room's description), not
    # the anchor's private data; who saved it is a staff reference.
    "session_scripts": {
        "id": NOT,
        "session_id": NOT,
        "version": NOT,
        "text": NOT,
        "warnings": NOT,
        "updated_by": REF,
        "updated_at": NOT,
    },
    "chat_messages": {
        "id": KEEP,
        "session_id": KEEP,
        "user_id": KEEP,
        "text": ERASE,  # emptied; the message is marked deleted so rooms stop showing it
        "status": KEEP,
        "reason": KEEP,  # why it was blocked (a rule name, not the author's words)
        "created_at": KEEP,
    },
    "room_sanctions": {
        "id": KEEP,
        "room_id": KEEP,
        "user_id": KEEP,
        "kind": KEEP,
        "until": KEEP,
        "reason": ERASE,  # a moderator's words about the person
        "created_by": KEEP,
        "created_at": KEEP,
        "lifted_at": KEEP,
    },
    "session_reservations": {
        "id": DELETE,
        "session_id": DELETE,
        "user_id": DELETE,
        "created_at": DELETE,
    },
    # commerce: the cart goes, orders and payments stay for the accounts.
    "cart_items": {
        "id": DELETE,
        "user_id": DELETE,
        "sku_id": DELETE,
        "quantity": DELETE,
        "session_id": DELETE,
        "added_at": DELETE,
    },
    "orders": {
        "id": KEEP,
        "user_id": KEEP,
        "brand_id": KEEP,
        "status": KEEP,
        "total": KEEP,
        "currency": KEEP,
        "session_id": KEEP,
        "anchor_id": KEEP,
        "room_id": KEEP,
        "idempotency_key": KEEP,
        "request_hash": KEEP,
        "payment_deadline": KEEP,
        "created_at": KEEP,
        "paid_at": KEEP,
        "shipped_at": KEEP,
        "delivered_at": KEEP,
        "completed_at": KEEP,
        "cancelled_at": KEEP,
        "cancel_reason": KEEP,
        "flash_sale_id": KEEP,
        "discount": KEEP,
        "coupon_id": KEEP,
    },
    "order_items": {
        "id": KEEP,
        "order_id": KEEP,
        "sku_id": KEEP,
        "product_id": KEEP,
        "title": KEEP,
        "quantity": KEEP,
        "unit_price": KEEP,
        "currency": KEEP,
        "discount": KEEP,
    },
    "payments": {
        "id": KEEP,
        "order_id": KEEP,
        "provider": KEEP,
        "reference": KEEP,
        "amount": KEEP,
        "currency": KEEP,
        "status": KEEP,
        "created_at": KEEP,
    },
    # after-sales (commerce): requests and refunds stay for the accounts; what the buyer wrote
    # and the evidence they gave are erased.
    "category_return_rules": {
        "category": NOT,
        "no_reason_returns": NOT,
        "note": NOT,
        "updated_at": NOT,
        "updated_by": REF,
    },
    "after_sales_requests": {
        "id": KEEP,
        "order_id": KEEP,
        "order_item_id": KEEP,
        "user_id": KEEP,
        "brand_id": KEEP,
        "product_id": KEEP,
        "kind": KEEP,
        "reason": KEEP,
        "text": ERASE,  # emptied
        "evidence": ERASE,  # emptied (the photo references)
        "quantity": KEEP,
        "amount": KEEP,
        "currency": KEEP,
        "status": KEEP,
        "requested_at": KEEP,
        "answer_due_at": KEEP,
        "answered_at": KEEP,
        "answered_by": REF,
        "answer_reason": KEEP,  # the merchant's words, part of the record
        "auto_approved": KEEP,
        "goods_received_at": KEEP,
        "refunded_at": KEEP,
    },
    "refunds": {
        "id": KEEP,
        "order_id": KEEP,
        "payment_id": KEEP,
        "request_id": KEEP,
        "cause": KEEP,
        "idempotency_key": KEEP,
        "provider": KEEP,
        "reference": KEEP,
        "amount": KEEP,
        "currency": KEEP,
        "status": KEEP,
        "created_at": KEEP,
    },
    # flashsale: holdings and reservations back orders, so they stay with them.
    "flash_sales": {
        "id": NOT,
        "session_id": NOT,
        "room_id": NOT,
        "anchor_id": REF,
        "brand_id": NOT,
        "product_id": NOT,
        "sku_id": NOT,
        "title": NOT,
        "banner": NOT,  # the sale's advertising line, scanned like a product title
        "price": NOT,
        "regular_price": NOT,
        "lowest_price_30d": NOT,
        "currency": NOT,
        "quantity": NOT,
        "sold": NOT,
        "returned": NOT,
        "per_user_limit": NOT,
        "status": NOT,
        "starts_at": NOT,
        "ends_at": NOT,
        "started_at": NOT,
        "finished_at": NOT,
        "created_by": REF,
        "created_at": NOT,
    },
    "flash_holdings": {"sale_id": KEEP, "user_id": KEEP, "quantity": KEEP},
    "flash_reservations": {
        "id": KEEP,
        "sale_id": KEEP,
        "user_id": KEEP,
        "order_id": KEEP,
        "quantity": KEEP,
        "idempotency_key": KEEP,
        "status": KEEP,
        "expires_at": KEEP,
        "created_at": KEEP,
        "released_at": KEEP,
    },
    # insights: a consumer's portrait and the state it is computed from, all deleted.
    "consumer_portraits": {
        "user_id": DELETE,
        "computed_at": DELETE,
        "watch_seconds": DELETE,
        "sessions_watched": DELETE,
        "avg_stay_seconds": DELETE,
        "active_hours": DELETE,
        "messages": DELETE,
        "likes": DELETE,
        "questions": DELETE,
        "interactions_per_hour": DELETE,
        "top_keywords": DELETE,
        "products_viewed": DELETE,
        "categories_viewed": DELETE,
        "carts": DELETE,
        "orders": DELETE,
        "spend_minor": DELETE,
        "currency": DELETE,
        "return_rate": DELETE,
        "recency_days": DELETE,
        "rfm_r": DELETE,
        "rfm_f": DELETE,
        "rfm_m": DELETE,
        "p_alive": DELETE,
        "expected_purchases_30d": DELETE,
        "expected_value_minor": DELETE,
        "tags": DELETE,
    },
    "consumer_affinities": {"user_id": DELETE, "kind": DELETE, "key": DELETE, "score": DELETE},
    "fan_levels": {"user_id": DELETE, "anchor_id": DELETE, "score": DELETE, "level": DELETE},
    "portrait_facts": {
        "id": DELETE,
        "user_id": DELETE,
        "day": DELETE,
        "hour": DELETE,
        "event_type": DELETE,
        "session_id": DELETE,
        "anchor_id": DELETE,
        "product_key": DELETE,
        "category_key": DELETE,
        "order_ref": DELETE,
        "is_question": DELETE,
        "currency": DELETE,
        "events": DELETE,
        "watch_seconds": DELETE,
        "watch_whole_seconds": DELETE,
        "quantity": DELETE,
        "amount": DELETE,
        "first_at": DELETE,
        "last_at": DELETE,
    },
    "portrait_keywords": {"user_id": DELETE, "word": DELETE, "count": DELETE},
    # which log files and runs the stored portraits come from: no person in them.
    "portrait_runs": {
        "id": NOT,
        "engine": NOT,
        "first_day": NOT,
        "last_day": NOT,
        "events": NOT,
        "consumers": NOT,
        "started_at": NOT,
        "finished_at": NOT,
    },
    "portrait_log_files": {"name": NOT, "day": NOT, "run_id": NOT, "events": NOT},
    # marketing: segments and campaigns are operators' work; a consumer's stages, campaign
    # arms and messages are about them and go with the account.
    "marketing_segments": {
        "id": NOT,
        "name": NOT,
        "description": NOT,
        "rule": NOT,
        "created_by": REF,
        "created_at": NOT,
        "updated_at": NOT,
    },
    "marketing_campaigns": {
        "id": NOT,
        "name": NOT,
        "action": NOT,
        "segment_id": NOT,
        "track": NOT,
        "stage": NOT,
        "session_id": NOT,
        "subject": NOT,
        "body": NOT,
        "coupon_code": NOT,
        "coupon_amount": NOT,
        "coupon_percent": NOT,
        "coupon_min_spend": NOT,
        "coupon_brand_id": NOT,
        "coupon_product_id": NOT,
        "coupon_valid_days": NOT,
        "currency": NOT,
        "holdout_percent": NOT,
        "window_days": NOT,
        "status": NOT,
        "opted_out": NOT,  # a count, no one named
        "outcome_source": NOT,
        "note": NOT,
        "created_by": REF,
        "created_at": NOT,
        "sent_at": NOT,
        "measured_at": NOT,
    },
    "consumer_stages": {"user_id": DELETE, "track": DELETE, "stage": DELETE, "entered_at": DELETE},
    "stage_transitions": {
        "id": DELETE,
        "user_id": DELETE,
        "track": DELETE,
        "from_stage": DELETE,
        "to_stage": DELETE,
        "moved_at": DELETE,
    },
    "campaign_assignments": {
        "campaign_id": DELETE,
        "user_id": DELETE,
        "arm": DELETE,
        "assigned_at": DELETE,
        "converted": DELETE,
        "gmv": DELETE,
    },
    "marketing_messages": {
        "id": DELETE,
        "campaign_id": DELETE,
        "user_id": DELETE,
        "channel": DELETE,
        "subject": DELETE,
        "body": DELETE,
        "link": DELETE,
        "coupon_code": DELETE,
        "status": DELETE,
        "created_at": DELETE,
        "read_at": DELETE,
        "attempts": DELETE,
        "next_attempt_at": DELETE,
        "sent_at": DELETE,
        "last_error": DELETE,
    },
    # A consumer's coupons back their orders' discounts: kept with the orders, like payments.
    "coupons": {
        "id": KEEP,
        "campaign_id": KEEP,
        "user_id": KEEP,
        "code": KEEP,
        "kind": KEEP,
        "amount": KEEP,
        "percent": KEEP,
        "min_spend": KEEP,
        "currency": KEEP,
        "brand_id": KEEP,
        "product_id": KEEP,
        "issued_at": KEEP,
        "expires_at": KEEP,
        "status": KEEP,
        "order_id": KEEP,
        "discount": KEEP,
        "redeemed_at": KEEP,
    },
    # catalog: a product's knowledge card (the brand's words, not a person's).
    "knowledge_cards": {
        "id": NOT,
        "product_id": NOT,
        "selling_points": NOT,
        "specifications": NOT,
        "faqs": NOT,
        "compliance_notes": NOT,
        "edited_by": REF,  # the merchant who edited it
        "generated_at": NOT,
        "updated_at": NOT,
    },
    # service: a viewer's question in live chat. Its words are the asker's: exported and
    # emptied on deletion (with the answer to them and the suggestion); timings stay for the
    # brand's service score.
    "service_questions": {
        "id": KEEP,
        "session_id": KEEP,
        "product_id": KEEP,
        "brand_id": KEEP,
        "message_id": KEEP,
        "asker_id": KEEP,
        "text": ERASE,  # emptied
        "language": KEEP,
        "asked_at": KEEP,
        "suggestion": ERASE,  # nulled: it quotes an answer fitted to the question
        "status": KEEP,
        "first_response_at": KEEP,
        "answered_by": REF,
        "answer": ERASE,  # nulled: it answers (and may quote) the asker
        "answer_mode": KEEP,
    },
    "service_tickets": {
        "id": KEEP,
        "user_id": KEEP,
        "brand_id": KEEP,
        "order_id": KEEP,
        "after_sales_request_id": KEEP,
        "subject": ERASE,  # emptied
        "status": KEEP,
        "created_at": KEEP,
        "first_response_at": KEEP,
        "resolved_at": KEEP,
        "satisfaction": KEEP,
        "rated_at": KEEP,
    },
    # The whole conversation of a consumer's ticket is theirs (the brand's replies too).
    "service_ticket_messages": {
        "id": KEEP,
        "ticket_id": KEEP,
        "author_id": REF,
        "from_staff": KEEP,
        "text": ERASE,  # emptied
        "created_at": KEEP,
    },
    # supervision (qualifications): a brand's licences and permits are the business's; an
    # anchor's identity verification is about them: its number, issuer, date of birth and
    # document are exported and erased on deletion (the record stays for the operator's
    # decision but no longer qualifies anyone).
    "qualifications": {
        "id": KEEP,
        "subject": KEEP,
        "brand_id": KEEP,
        "user_id": KEEP,
        "kind": KEEP,
        "number": ERASE,  # emptied
        "issuer": ERASE,  # emptied
        "valid_from": KEEP,
        "expires_on": KEEP,
        "categories": KEEP,
        "date_of_birth": ERASE,  # nulled
        "document_ref": ERASE,  # nulled
        "status": KEEP,
        "submitted_by": KEEP,
        "submitted_at": KEEP,
        "reviewer_id": REF,
        "review_note": ERASE,  # an operator's words about the person
        "reviewed_at": KEEP,
    },
    # supervision (selection review): products and their inspections, no person in them.
    "product_selections": {
        "id": NOT,
        "product_id": NOT,
        "brand_id": NOT,
        "status": NOT,
        "note": NOT,
        "submitted_by": REF,
        "submitted_at": NOT,
        "reviewer_id": REF,
        "reason": NOT,
        "decided_at": NOT,
    },
    "quality_inspections": {
        "id": NOT,
        "selection_id": NOT,
        "product_id": NOT,
        "sample_id": NOT,
        "findings": NOT,
        "photos": NOT,
        "passed": NOT,
        "inspector_id": REF,
        "inspected_at": NOT,
    },
    # supervision, sanctions and risk (F). The audit log is append-only (database triggers), so
    # nothing in it can be erased: it holds ids (actor_id: REF, like every staff record), codes
    # and the operator's reason for a decision about a business actor, never a person's own
    # words (an appeal or report is recorded as "filed", with its length, not its text).
    "supervision_audit": {
        "id": NOT,
        "at": NOT,
        "actor_id": REF,
        "actor_role": NOT,
        "action": NOT,
        "subject_kind": NOT,
        "subject_id": NOT,  # a product, sale, room, brand or an anchor acting as a business
        "reason": NOT,  # the operator's reason, part of the supervision record
        "details": NOT,  # ids and codes only
    },
    "supervision_sanctions": {
        "id": KEEP,
        "kind": KEEP,
        "subject_kind": KEEP,
        "subject_id": KEEP,
        "reason": NOT,  # the operator's reason
        "party_user_id": REF,
        "party_brand_id": NOT,
        "created_by": REF,
        "created_at": KEEP,
        "ends_at": KEEP,
        "lifted_at": KEEP,
        "lifted_by": REF,
        "appeal_status": KEEP,
        "appeal_text": ERASE,  # the appellant's own words, emptied
        "appeal_by": KEEP,
        "appealed_at": KEEP,
        "appeal_decided_by": REF,
        "appeal_decided_at": KEEP,
    },
    "supervision_reports": {
        "id": KEEP,
        "reporter_id": KEEP,
        "kind": KEEP,
        "session_id": KEEP,
        "order_id": KEEP,
        "product_id": KEEP,
        "anchor_id": REF,
        "brand_id": KEEP,
        "text": ERASE,  # the reporter's words, emptied; the case stays for the triage record
        "evidence": ERASE,  # links the reporter gave, emptied
        "status": KEEP,
        "handled_by": REF,
        "created_at": KEEP,
        "updated_at": KEEP,
    },
    "supervision_negative_signals": {
        "id": NOT,
        "session_id": NOT,
        "at": NOT,
        "source": NOT,
        "term": NOT,  # the lexicon term matched, not the message
    },
    "supervision_alerts": {
        "id": NOT,
        "session_id": NOT,
        "kind": NOT,
        "at": NOT,
        "negative": NOT,
        "window_seconds": NOT,
        "terms": NOT,
    },
    # Risk signals (migration 0011): about brands, products and anchors acting as a business;
    # the excerpt is the matched lexicon words or the prices, never a whole message.
    "supervision_compliance_hits": {
        "id": NOT,
        "at": NOT,
        "source": NOT,
        "action": NOT,
        "rule_id": NOT,
        "excerpt": NOT,
        "brand_id": NOT,
        "product_id": NOT,
        "anchor_id": REF,
        "session_id": NOT,
        "details": NOT,
    },
    "supervision_bot_findings": {  # counts per session, no viewer's id
        "id": NOT,
        "session_id": NOT,
        "anchor_id": REF,
        "detector": NOT,
        "accounts": NOT,
        "detail": NOT,
        "seen_at": NOT,
        "detected_at": NOT,
    },
}

# The behaviour-event log (Parquet, `events/schemas.py`): the events of a consumer are those
# with their `consumer_id`; all are exported, and deletion rewrites the files holding them.
EVENT_FIELDS: dict[str, Handling] = {
    "event_id": KEEP,
    "event_type": KEEP,
    "occurred_at": KEEP,
    "consumer_id": KEEP,  # now names the pseudonymised user row
    "anonymous_id": ERASE,  # the browser's id would link the person's anonymous browsing
    "session_id": KEEP,
    "room_id": KEEP,
    "anchor_id": KEEP,
    "product_id": KEEP,
    "sku_id": KEEP,
    "order_id": KEEP,
    "quantity": KEEP,
    "amount": KEEP,
    "currency": KEEP,
    "watch_seconds": KEEP,
    "text": ERASE,  # the chat message
    "source": KEEP,
    "properties": ERASE,  # free-form extras a browser sent
}


def handling(table: str, column: str) -> Handling | None:
    """How a column is handled, or None when it is not classified."""
    return COLUMNS.get(table, {}).get(column)


def erased_event_fields() -> list[str]:
    """The behaviour-event fields a deletion nulls."""
    return [name for name, how in EVENT_FIELDS.items() if how == ERASE]


def exported_columns(table: str) -> list[str]:
    """The columns of a personal table that the export returns, in registry order."""
    return [
        column
        for column, how in COLUMNS[table].items()
        if how in PERSONAL and (table, column) not in NOT_EXPORTED
    ]
