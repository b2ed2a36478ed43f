"""Qualifications and selection review gate going live and the showcase (issue 5, items 1-2).

Everything goes through the REST API as merchants, anchors and operators would, on SQLite and
PostgreSQL: an anchor without an approved, unexpired identity verification (or under 16)
cannot start a session; a product not approved for live, or of a brand without a valid
business licence or category permit, cannot be showcased.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from livecart.accounts.schemas import Role
from livecart.bootstrap import Container
from livecart.core.clock import FrozenClock
from livecart.core.security import create_access_token
from livecart.supervision import service as supervision
from livecart.supervision.errors import QualificationMissing
from tests.support import PASSWORD, email_of, make_user

API = "/api/v1"
SUP = f"{API}/supervision"


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def today(clock: FrozenClock) -> date:
    return clock.now().date()


def identity(
    clock: FrozenClock, *, expires_in: int = 365, born: date | None = None
) -> dict[str, Any]:
    return {
        "kind": "identity_verification",
        "number": "110101199001011234",
        "issuer": "Hangzhou public security bureau",
        "valid_from": (today(clock) - timedelta(days=30)).isoformat(),
        "expires_on": (today(clock) + timedelta(days=expires_in)).isoformat(),
        "date_of_birth": (born or date(1990, 1, 1)).isoformat(),
        "document_ref": "identity/card-front.png",
    }


def licence(clock: FrozenClock, brand_id: int, *, expires_in: int = 365) -> dict[str, Any]:
    return {
        "kind": "business_licence",
        "brand_id": brand_id,
        "number": "91330100MA2XXXXX1X",
        "issuer": "Hangzhou market regulation administration",
        "valid_from": (today(clock) - timedelta(days=30)).isoformat(),
        "expires_on": (today(clock) + timedelta(days=expires_in)).isoformat(),
    }


def permit(clock: FrozenClock, brand_id: int, categories: list[str]) -> dict[str, Any]:
    return {
        "kind": "category_permit",
        "brand_id": brand_id,
        "number": "JY13301000000001",
        "issuer": "Hangzhou food and drug administration",
        "valid_from": (today(clock) - timedelta(days=30)).isoformat(),
        "expires_on": (today(clock) + timedelta(days=365)).isoformat(),
        "categories": categories,
    }


class People:
    def __init__(self, client: httpx.AsyncClient, container: Container) -> None:
        self.client = client
        self.container = container
        self.headers: dict[str, dict[str, str]] = {}
        self.ids: dict[str, int] = {}

    async def add(self, name: str, *roles: Role, brand_id: int | None = None) -> int:
        """A user with the roles and a bearer token good for a month of the test's clock (a
        token from the login route would expire when the tests move the clock by days)."""
        user_id = await make_user(self.container, *roles, brand_id=brand_id, name=name)
        token = create_access_token(
            secret=self.container.secret,
            user_id=user_id,
            now=self.container.clock.now(),
            minutes=60 * 24 * 30,
        )
        self.headers[name] = {"Authorization": f"Bearer {token}"}
        self.ids[name] = user_id
        return user_id

    async def post(self, who: str, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(url, json=body or {}, headers=self.headers[who])

    async def get(self, who: str, url: str, **params: Any) -> httpx.Response:
        return await self.client.get(url, params=params, headers=self.headers[who])


async def file_and_review(
    people: People, who: str, body: dict[str, Any], decision: str = "approve"
) -> int:
    r = await people.post(who, f"{SUP}/qualifications", body)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending"
    record = int(r.json()["id"])
    r = await people.post(
        "olga", f"{SUP}/qualifications/{record}/review", {"decision": decision, "note": "ok"}
    )
    assert r.status_code == 200, r.text
    return record


async def scheduled_session(people: People, who: str) -> int:
    r = await people.post(who, f"{API}/rooms", {"title": f"{who}'s room"})
    assert r.status_code == 201, r.text
    r = await people.post(who, f"{API}/rooms/{r.json()['id']}/sessions", {"title": "Tonight"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def shop(people: People, *, category: str = "accessories") -> tuple[int, int]:
    """(brand id, product id): a brand with its merchant 'max' and one product."""
    r = await people.post(
        "olga", f"{API}/brands", {"name": f"Brand {category} {len(people.headers)}"}
    )
    assert r.status_code == 201, r.text
    brand_id = int(r.json()["id"])
    await people.add("max", Role.merchant, brand_id=brand_id)
    r = await people.post(
        "max",
        f"{API}/products",
        {
            "brand_id": brand_id,
            "title": "Silk scarf",
            "category": category,
            "skus": [{"code": "S-1", "price": 12990, "currency": "CNY", "stock": 5}],
        },
    )
    assert r.status_code == 201, r.text
    return brand_id, int(r.json()["id"])


async def other_brand(people: People) -> int:
    r = await people.post("olga", f"{API}/brands", {"name": "Someone else's brand"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def approve_through_review(people: People, product_id: int) -> int:
    """Merchant submits, operator selects, inspects (passed) and approves: the selection id."""
    r = await people.post(
        "max", f"{SUP}/selections", {"product_id": product_id, "note": "bestseller"}
    )
    assert r.status_code == 201, r.text
    selection = int(r.json()["id"])
    r = await people.post("olga", f"{SUP}/selections/{selection}/decision", {"decision": "select"})
    assert r.status_code == 200 and r.json()["status"] == "selected", r.text
    r = await people.post(
        "olga",
        f"{SUP}/selections/{selection}/inspections",
        {
            "sample_id": "SMP-001",
            "findings": "100% mulberry silk as labelled; seams even",
            "photos": ["inspections/smp-001-a.jpg"],
            "passed": True,
        },
    )
    assert r.status_code == 201 and r.json()["status"] == "inspected", r.text
    r = await people.post("olga", f"{SUP}/selections/{selection}/decision", {"decision": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    return selection


# ---------------------------------------------------------------- anchors going live


async def test_expired_identity_cannot_go_live_and_a_renewal_can(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    people = People(client, container)
    await people.add("olga", Role.operator)
    mia = await people.add("mia", Role.anchor)
    session_id = await scheduled_session(people, "mia")
    start = f"{API}/sessions/{session_id}/start"

    r = await people.post("mia", start)
    assert r.status_code == 409 and code(r) == "qualification_missing", r.text
    details = r.json()["error"]["details"]
    assert details["kind"] == "identity_verification" and details["user_id"] == mia

    # Pending is not enough; a rejected record is not either.
    r = await people.post("mia", f"{SUP}/qualifications", identity(clock, expires_in=10))
    assert r.status_code == 201
    first = int(r.json()["id"])
    assert code(await people.post("mia", start)) == "qualification_missing"
    await file_and_review(people, "mia", identity(clock), decision="reject")
    assert code(await people.post("mia", start)) == "qualification_missing"

    r = await people.post(
        "olga", f"{SUP}/qualifications/{first}/review", {"decision": "approve", "note": ""}
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert r.json()["reviewed_at"] is not None

    clock.advance(days=11)  # the approved verification expired yesterday
    r = await people.post("mia", start)
    assert r.status_code == 409 and code(r) == "qualification_expired", r.text
    details = r.json()["error"]["details"]
    assert details["qualification_id"] == first
    assert details["expires_on"] == (today(clock) - timedelta(days=1)).isoformat()
    view = (await client.get(f"{API}/sessions/{session_id}")).json()
    assert view["status"] == "scheduled"

    await file_and_review(people, "mia", identity(clock, expires_in=365))
    r = await people.post("mia", start)
    assert r.status_code == 200 and r.json()["status"] == "live", r.text


async def test_an_anchor_under_16_is_refused_until_the_birthday(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    people = People(client, container)
    await people.add("olga", Role.operator)
    await people.add("kid", Role.anchor)
    now = today(clock)
    birthday = now + timedelta(days=3)
    born = birthday.replace(year=birthday.year - 16)
    await file_and_review(people, "kid", identity(clock, born=born))
    session_id = await scheduled_session(people, "kid")

    r = await people.post("kid", f"{API}/sessions/{session_id}/start")
    assert r.status_code == 409 and code(r) == "anchor_under_age", r.text
    assert r.json()["error"]["details"]["age"] == 15
    assert r.json()["error"]["details"]["minimum_age"] == 16

    clock.advance(days=3)
    r = await people.post("kid", f"{API}/sessions/{session_id}/start")
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- products in the showcase


async def test_only_products_approved_for_live_can_be_showcased(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    people = People(client, container)
    await people.add("olga", Role.operator)
    await people.add("mia", Role.anchor)
    brand_id, product_id = await shop(people)
    await file_and_review(people, "max", licence(clock, brand_id))
    session_id = await scheduled_session(people, "mia")
    showcase = f"{API}/sessions/{session_id}/showcase"

    r = await people.post("mia", showcase, {"product_id": product_id})
    assert r.status_code == 409 and code(r) == "product_not_approved_for_live", r.text

    r = await people.post("max", f"{SUP}/selections", {"product_id": product_id})
    selection = int(r.json()["id"])
    assert r.status_code == 201 and r.json()["status"] == "submitted"
    # Submitted, selected, inspected: still not approved.
    assert code(await people.post("mia", showcase, {"product_id": product_id})) == (
        "product_not_approved_for_live"
    )
    await people.post("olga", f"{SUP}/selections/{selection}/decision", {"decision": "select"})
    assert code(await people.post("mia", showcase, {"product_id": product_id})) == (
        "product_not_approved_for_live"
    )
    r = await people.post(
        "olga",
        f"{SUP}/selections/{selection}/inspections",
        {"sample_id": "SMP-9", "findings": "as described", "passed": True},
    )
    assert r.json()["status"] == "inspected"
    assert code(await people.post("mia", showcase, {"product_id": product_id})) == (
        "product_not_approved_for_live"
    )
    r = await people.post("olga", f"{SUP}/selections/{selection}/decision", {"decision": "approve"})
    assert r.json()["status"] == "approved"

    r = await people.post("mia", showcase, {"product_id": product_id})
    assert r.status_code == 200 and [c["id"] for c in r.json()] == [product_id], r.text

    # Approval withdrawn: the product cannot be showcased again (in another session).
    r = await people.post(
        "olga",
        f"{SUP}/selections/{selection}/decision",
        {"decision": "reject", "reason": "complaints about colour fastness"},
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    other = await scheduled_session(people, "mia")
    r = await people.post("mia", f"{API}/sessions/{other}/showcase", {"product_id": product_id})
    assert r.status_code == 409 and code(r) == "product_not_approved_for_live"


async def test_an_expired_brand_licence_keeps_its_products_out_of_the_showcase(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    people = People(client, container)
    await people.add("olga", Role.operator)
    await people.add("mia", Role.anchor)
    brand_id, product_id = await shop(people)
    await approve_through_review(people, product_id)
    session_id = await scheduled_session(people, "mia")
    showcase = f"{API}/sessions/{session_id}/showcase"

    r = await people.post("mia", showcase, {"product_id": product_id})
    assert r.status_code == 409 and code(r) == "qualification_missing"
    assert r.json()["error"]["details"]["kind"] == "business_licence"
    assert r.json()["error"]["details"]["brand_id"] == brand_id

    record = await file_and_review(people, "max", licence(clock, brand_id, expires_in=5))
    clock.advance(days=6)
    r = await people.post("mia", showcase, {"product_id": product_id})
    assert r.status_code == 409 and code(r) == "qualification_expired", r.text
    assert r.json()["error"]["details"]["qualification_id"] == record

    await file_and_review(people, "max", licence(clock, brand_id))
    r = await people.post("mia", showcase, {"product_id": product_id})
    assert r.status_code == 200, r.text


async def test_a_permit_category_needs_a_permit_naming_it(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    assert "tea" in supervision.DEFAULT_PERMIT_CATEGORIES
    people = People(client, container)
    await people.add("olga", Role.operator)
    await people.add("mia", Role.anchor)
    brand_id, product_id = await shop(people, category="tea")
    await approve_through_review(people, product_id)
    await file_and_review(people, "max", licence(clock, brand_id))
    session_id = await scheduled_session(people, "mia")
    showcase = f"{API}/sessions/{session_id}/showcase"

    r = await people.post("mia", showcase, {"product_id": product_id})
    assert r.status_code == 409 and code(r) == "qualification_missing", r.text
    assert r.json()["error"]["details"]["kind"] == "category_permit"
    assert r.json()["error"]["details"]["category"] == "tea"

    # A permit for other categories does not count.
    await file_and_review(people, "max", permit(clock, brand_id, ["skincare"]))
    assert code(await people.post("mia", showcase, {"product_id": product_id})) == (
        "qualification_missing"
    )
    await file_and_review(people, "max", permit(clock, brand_id, ["Tea", "snacks"]))
    r = await people.post("mia", showcase, {"product_id": product_id})
    assert r.status_code == 200, r.text


async def test_the_permit_category_list_is_configurable(
    any_backend: str, container: Container, clock: FrozenClock, client: httpx.AsyncClient
) -> None:
    people = People(client, container)
    await people.add("olga", Role.operator)
    brand_id, product_id = await shop(people, category="accessories")
    await approve_through_review(people, product_id)
    await file_and_review(people, "max", licence(clock, brand_id))
    async with container.uow() as uow:
        await supervision.check_can_showcase(
            uow.session,
            product_id=product_id,
            brand_id=brand_id,
            category="accessories",
            today=today(clock),
        )
        try:
            await supervision.check_can_showcase(
                uow.session,
                product_id=product_id,
                brand_id=brand_id,
                category="accessories",
                today=today(clock),
                permit_categories=["accessories"],
            )
        except QualificationMissing as refused:
            assert refused.details["kind"] == "category_permit"
        else:
            raise AssertionError("accessories needed a permit once configured so")


# ---------------------------------------------------------------- review transitions and access


async def test_qualification_reviews_and_who_may_file_and_see_them(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    people = People(client, container)
    await people.add("olga", Role.operator)
    await people.add("mia", Role.anchor)
    await people.add("ann", Role.anchor)
    brand_id, _ = await shop(people)
    await people.add("eve", Role.merchant, brand_id=await other_brand(people))

    # Filing: a merchant only for their own brand, an anchor only for themselves.
    r = await people.post("eve", f"{SUP}/qualifications", licence(clock, brand_id))
    assert r.status_code == 403 and code(r) == "not_brand_member"
    r = await people.post("max", f"{SUP}/qualifications", identity(clock))
    assert r.status_code == 403 and code(r) == "not_an_anchor"
    r = await people.post("mia", f"{SUP}/qualifications", {**identity(clock), "user_id": 1})
    assert r.status_code == 422
    r = await people.post(
        "mia", f"{SUP}/qualifications", {**identity(clock), "date_of_birth": None}
    )
    assert r.status_code == 422
    r = await people.post("max", f"{SUP}/qualifications", permit(clock, brand_id, []))
    assert r.status_code == 422
    backwards = {**licence(clock, brand_id), "expires_on": "2000-01-01"}
    assert (await people.post("max", f"{SUP}/qualifications", backwards)).status_code == 422

    r = await people.post("mia", f"{SUP}/qualifications", identity(clock))
    mine = int(r.json()["id"])
    assert r.json()["user_id"] != r.json()["brand_id"] and r.json()["subject"] == "anchor"

    # The queue holds it; only operators review, a rejection needs a note, no second review.
    queue = (await people.get("olga", f"{SUP}/reviews")).json()
    assert mine in [q["id"] for q in queue["qualifications"]]
    assert (await people.get("mia", f"{SUP}/reviews")).status_code == 403
    review = f"{SUP}/qualifications/{mine}/review"
    r = await people.post("mia", review, {"decision": "approve"})
    assert r.status_code == 403
    r = await people.post("olga", review, {"decision": "reject"})
    assert r.status_code == 422
    r = await people.post("olga", review, {"decision": "reject", "note": "blurred scan"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["review_note"] == "blurred scan"
    r = await people.post("olga", review, {"decision": "approve"})
    assert r.status_code == 409 and code(r) == "invalid_review_transition"
    queue = (await people.get("olga", f"{SUP}/reviews")).json()
    assert mine not in [q["id"] for q in queue["qualifications"]]
    audit = (await people.get("olga", f"{SUP}/audit", subject_kind="anchor")).json()
    entry = next(a for a in audit if a["details"].get("qualification_id") == mine)
    assert entry["action"] == "qualification_rejected" and entry["reason"] == "blurred scan"
    assert entry["actor_id"] == people.ids["olga"] and entry["subject_id"] == people.ids["mia"]

    # Visibility: the owner and operators; another anchor gets 404.
    assert (await people.get("mia", f"{SUP}/qualifications/{mine}")).status_code == 200
    assert (await people.get("olga", f"{SUP}/qualifications/{mine}")).status_code == 200
    r = await people.get("ann", f"{SUP}/qualifications/{mine}")
    assert r.status_code == 404 and code(r) == "qualification_not_found"
    assert (await people.get("ann", f"{SUP}/qualifications")).json() == []
    assert [q["id"] for q in (await people.get("mia", f"{SUP}/qualifications")).json()] == [mine]


async def test_selection_transitions_are_checked(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    people = People(client, container)
    await people.add("olga", Role.operator)
    _brand_id, product_id = await shop(people)
    await people.add("eve", Role.merchant, brand_id=await other_brand(people))

    r = await people.post("eve", f"{SUP}/selections", {"product_id": product_id})
    assert r.status_code == 403 and code(r) == "not_brand_member"
    r = await people.post("max", f"{SUP}/selections", {"product_id": 99999})
    assert r.status_code == 404 and code(r) == "product_not_found"
    r = await people.post("max", f"{SUP}/selections", {"product_id": product_id})
    selection = int(r.json()["id"])
    r = await people.post("max", f"{SUP}/selections", {"product_id": product_id})
    assert r.status_code == 409 and code(r) == "selection_already_open"

    decide = f"{SUP}/selections/{selection}/decision"
    inspect = f"{SUP}/selections/{selection}/inspections"
    sample = {"sample_id": "SMP-1", "findings": "stitching loose at the hem", "passed": False}
    r = await people.post("olga", decide, {"decision": "approve"})
    assert r.status_code == 409 and code(r) == "invalid_review_transition"
    assert r.json()["error"]["details"] == {
        "selection_id": selection,
        "status": "submitted",
        "decision": "approve",
    }
    r = await people.post("olga", inspect, sample)
    assert r.status_code == 409 and code(r) == "invalid_review_transition"
    assert (await people.post("max", decide, {"decision": "select"})).status_code == 403
    r = await people.post("olga", decide, {"decision": "reject"})
    assert r.status_code == 422
    r = await people.post("olga", decide, {"decision": "select"})
    assert r.json()["status"] == "selected"
    r = await people.post("olga", decide, {"decision": "approve"})
    assert code(r) == "invalid_review_transition"

    # A failed inspection rejects, with the findings as the reason.
    r = await people.post("olga", inspect, sample)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "rejected"
    assert r.json()["reason"] == "quality inspection failed: stitching loose at the hem"
    assert [i["passed"] for i in r.json()["inspections"]] == [False]
    assert code(await people.post("olga", decide, {"decision": "select"})) == (
        "invalid_review_transition"
    )

    # Resubmitted after the fix: a new record; the merchant sees both, the latest inspection is
    # the failed one until another is made.
    r = await people.post("max", f"{SUP}/selections", {"product_id": product_id})
    assert r.status_code == 201 and r.json()["id"] != selection
    listed = (await people.get("max", f"{SUP}/selections", product_id=product_id)).json()
    assert [s["status"] for s in listed] == ["rejected", "submitted"]
    assert (await people.get("eve", f"{SUP}/selections")).json() == []
    r = await people.get("max", f"{SUP}/products/{product_id}/inspection")
    assert r.status_code == 200 and r.json()["findings"] == "stitching loose at the hem"
    async with container.uow() as uow:
        latest = await supervision.latest_inspection(uow.session, product_id=product_id)
    assert latest is not None and latest.sample_id == "SMP-1" and latest.passed is False

    queue = (await people.get("olga", f"{SUP}/reviews")).json()
    assert [s["id"] for s in queue["selections"]] == [listed[1]["id"]]
    second = f"{SUP}/selections/{listed[1]['id']}"
    await people.post("olga", f"{second}/decision", {"decision": "select"})
    passed = {"sample_id": "SMP-2", "findings": "hem re-stitched, even", "passed": True}
    assert (await people.post("olga", f"{second}/inspections", passed)).status_code == 201
    r = await people.post("olga", f"{second}/decision", {"decision": "approve"})
    assert r.json()["status"] == "approved" and len(r.json()["inspections"]) == 1
    async with container.uow() as uow:
        latest = await supervision.latest_inspection(uow.session, product_id=product_id)
        assert await supervision.is_approved_for_live(uow.session, product_id=product_id)
    assert latest is not None and latest.sample_id == "SMP-2" and latest.passed is True
    assert (await people.get("olga", f"{SUP}/reviews")).json()["selections"] == []
    # Every operator decision is in the audit log, oldest first.
    audit = (await people.get("olga", f"{SUP}/audit", subject_kind="product")).json()
    actions = [
        a["action"] for a in sorted(audit, key=lambda a: a["id"]) if a["subject_id"] == product_id
    ]
    assert actions == [
        "selection_selected",
        "selection_inspection_failed",
        "selection_selected",
        "selection_inspection_passed",
        "selection_approved",
    ]


async def test_the_review_page_lists_the_queue_for_operators_only(
    any_backend: str, client: httpx.AsyncClient, container: Container, clock: FrozenClock
) -> None:
    people = People(client, container)
    await people.add("olga", Role.operator)
    await people.add("kid", Role.anchor)
    _brand_id, product_id = await shop(people)
    born = today(clock).replace(year=today(clock).year - 15, day=1)
    r = await people.post("kid", f"{SUP}/qualifications", identity(clock, born=born))
    record = int(r.json()["id"])
    r = await people.post("max", f"{SUP}/selections", {"product_id": product_id, "note": "<b>x"})
    selection = int(r.json()["id"])

    async def page_as(name: str) -> httpx.Response:
        client.cookies.clear()
        email = await email_of(container, people.ids[name])
        r = await client.post("/login", data={"email": email, "password": PASSWORD, "next": "/"})
        assert r.status_code == 303, r.text
        return await client.get("/operator/reviews")

    page = await page_as("olga")
    assert page.status_code == 200, page.text
    assert f'data-qualification-id="{record}"' in page.text
    assert "under 16" in page.text
    assert f'data-selection-id="{selection}"' in page.text
    assert "Silk scarf" in page.text and "&lt;b&gt;x" in page.text and "<b>x" not in page.text
    assert f"/api/v1/supervision/qualifications/{record}/review" in page.text
    assert (await page_as("kid")).status_code == 403
    assert (await page_as("max")).status_code == 403
