"""Segment rules over stored portraits, compiled into a SQLAlchemy select of user ids.

A rule is a tree: a group (`all` or `any` of conditions) whose conditions are
field comparisons on the portrait (`{"field": "p_alive", "op": ">", "value": 0.3}`, fields from
a typed whitelist), affinities (`{"affinity": "category", "key": "beauty", "op": ">",
"value": 0.6}`), tags (`{"tag": "night owl"}`, `"present": false` for its absence), fan levels
with one anchor (`{"anchor_id": 3, "op": ">=", "value": 2}`), or nested groups. The tree is
validated by Pydantic and compiled into SQLAlchemy expressions only: no value or name from
the rule is ever put into SQL text. A consumer without a stored portrait is in no segment.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true

from livecart.insights.models import ConsumerAffinity, ConsumerPortrait, FanLevel

MAX_DEPTH = 4
MAX_CONDITIONS = 40


class Op(StrEnum):
    gt = ">"
    ge = ">="
    lt = "<"
    le = "<="
    eq = "="
    ne = "!="
    in_ = "in"


class FieldKind(StrEnum):
    number = "number"
    integer = "integer"


# The portrait fields a rule may compare, with their type (the page builds its menu from this).
FIELDS: dict[str, tuple[Any, FieldKind, str]] = {
    "watch_seconds": (ConsumerPortrait.watch_seconds, FieldKind.number, "watch time, seconds"),
    "sessions_watched": (ConsumerPortrait.sessions_watched, FieldKind.integer, "sessions watched"),
    "avg_stay_seconds": (
        ConsumerPortrait.avg_stay_seconds,
        FieldKind.number,
        "average stay, seconds",
    ),
    "messages": (ConsumerPortrait.messages, FieldKind.integer, "chat messages"),
    "likes": (ConsumerPortrait.likes, FieldKind.integer, "likes"),
    "questions": (ConsumerPortrait.questions, FieldKind.integer, "questions asked"),
    "interactions_per_hour": (
        ConsumerPortrait.interactions_per_hour,
        FieldKind.number,
        "interactions per hour watched",
    ),
    "products_viewed": (ConsumerPortrait.products_viewed, FieldKind.integer, "products viewed"),
    "categories_viewed": (
        ConsumerPortrait.categories_viewed,
        FieldKind.integer,
        "categories viewed",
    ),
    "carts": (ConsumerPortrait.carts, FieldKind.integer, "add-to-carts"),
    "orders": (ConsumerPortrait.orders, FieldKind.integer, "orders"),
    "spend_minor": (ConsumerPortrait.spend_minor, FieldKind.integer, "spend, minor units"),
    "return_rate": (ConsumerPortrait.return_rate, FieldKind.number, "return rate (0..1)"),
    "recency_days": (ConsumerPortrait.recency_days, FieldKind.integer, "days since last order"),
    "rfm_r": (ConsumerPortrait.rfm_r, FieldKind.integer, "RFM recency score 1-5"),
    "rfm_f": (ConsumerPortrait.rfm_f, FieldKind.integer, "RFM frequency score 1-5"),
    "rfm_m": (ConsumerPortrait.rfm_m, FieldKind.integer, "RFM monetary score 1-5"),
    "p_alive": (ConsumerPortrait.p_alive, FieldKind.number, "P(still active), BG/NBD"),
    "expected_purchases_30d": (
        ConsumerPortrait.expected_purchases_30d,
        FieldKind.number,
        "expected purchases in 30 days",
    ),
    "expected_value_minor": (
        ConsumerPortrait.expected_value_minor,
        FieldKind.integer,
        "expected value, minor units",
    ),
}

Number = float | int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldCondition(_Strict):
    """A comparison of one whitelisted portrait field."""

    field: str = Field(max_length=40)
    op: Op
    value: Number | list[Number] = Field(description="a number, or a list of numbers for 'in'")

    @model_validator(mode="after")
    def _known(self) -> FieldCondition:
        if self.field not in FIELDS:
            raise ValueError(f"unknown field {self.field!r}; known: {', '.join(FIELDS)}")
        _check_value(self.op, self.value)
        return self


class AffinityCondition(_Strict):
    """How much the consumer leans to a category, brand or price band (score 0..1)."""

    affinity: Literal["category", "brand", "price_band"]
    key: str = Field(min_length=1, max_length=120)
    op: Op = Op.gt
    value: Number | list[Number] = 0.0

    @model_validator(mode="after")
    def _value(self) -> AffinityCondition:
        _check_value(self.op, self.value)
        return self


class TagCondition(_Strict):
    """A readable portrait tag (night owl, bargain hunter, ...), present or absent."""

    tag: str = Field(min_length=1, max_length=40)
    present: bool = True


class FanLevelCondition(_Strict):
    """The consumer's fan level with one anchor (no row: no level, never matches)."""

    anchor_id: int = Field(ge=1)
    op: Op = Op.ge
    value: Number | list[Number] = 1

    @model_validator(mode="after")
    def _value(self) -> FanLevelCondition:
        _check_value(self.op, self.value)
        return self


class RuleGroup(_Strict):
    """All (and) or any (or) of the conditions; exactly one of the two."""

    all: list[Condition] | None = None
    any: list[Condition] | None = None

    @model_validator(mode="after")
    def _one(self) -> RuleGroup:
        if (self.all is None) == (self.any is None):
            raise ValueError("a group has exactly one of 'all' or 'any'")
        return self

    @property
    def conditions(self) -> list[Condition]:
        """The group's conditions, whichever the combinator."""
        return self.all if self.all is not None else (self.any or [])


Condition = FieldCondition | AffinityCondition | TagCondition | FanLevelCondition | RuleGroup
RuleGroup.model_rebuild()


def _check_value(op: Op, value: Number | list[Number]) -> None:
    if op is Op.in_:
        if not isinstance(value, list) or not value or len(value) > 100:
            raise ValueError("'in' takes a list of 1 to 100 numbers")
    elif isinstance(value, list):
        raise ValueError(f"{op.value!r} takes one number")


def check_rule(rule: RuleGroup) -> RuleGroup:
    """Refuse trees that are too deep or too large (a page could send anything)."""

    def walk(group: RuleGroup, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ValueError(f"groups nest at most {MAX_DEPTH} deep")
        count = 0
        for condition in group.conditions:
            count += walk(condition, depth + 1) if isinstance(condition, RuleGroup) else 1
        return count

    if walk(rule, 1) > MAX_CONDITIONS:
        raise ValueError(f"a rule has at most {MAX_CONDITIONS} conditions")
    return rule


def parse_rule(data: dict[str, Any]) -> RuleGroup:
    """Validate a rule tree from JSON (raises pydantic.ValidationError or ValueError)."""
    return check_rule(RuleGroup.model_validate(data))


def _compare(column: Any, op: Op, value: Number | list[Number]) -> ColumnElement[bool]:
    if op is Op.in_:
        assert isinstance(value, list)
        return column.in_(value)  # type: ignore[no-any-return]
    comparisons = {
        Op.gt: column.__gt__,
        Op.ge: column.__ge__,
        Op.lt: column.__lt__,
        Op.le: column.__le__,
        Op.eq: column.__eq__,
        Op.ne: column.__ne__,
    }
    return comparisons[op](value)  # type: ignore[no-any-return]


def _tag_present(tag: str, dialect: str) -> ColumnElement[bool]:
    # The tags are a JSON array: expand it with the dialect's table-valued JSON function.
    if dialect == "postgresql":
        elements = func.json_array_elements_text(ConsumerPortrait.tags).table_valued("value")
    else:
        elements = func.json_each(ConsumerPortrait.tags).table_valued("value")
    return exists(select(1).select_from(elements).where(elements.c.value == tag))


def _condition(condition: Condition, dialect: str) -> ColumnElement[bool]:
    user = ConsumerPortrait.user_id
    if isinstance(condition, RuleGroup):
        parts = [_condition(c, dialect) for c in condition.conditions]
        if condition.all is not None:
            return and_(true(), *parts)
        return or_(false(), *parts)
    if isinstance(condition, FieldCondition):
        return _compare(FIELDS[condition.field][0], condition.op, condition.value)
    if isinstance(condition, AffinityCondition):
        return exists(
            select(1).where(
                ConsumerAffinity.user_id == user,
                ConsumerAffinity.kind == condition.affinity,
                ConsumerAffinity.key == condition.key,
                _compare(ConsumerAffinity.score, condition.op, condition.value),
            )
        )
    if isinstance(condition, TagCondition):
        present = _tag_present(condition.tag, dialect)
        return present if condition.present else ~present
    return exists(
        select(1).where(
            FanLevel.user_id == user,
            FanLevel.anchor_id == condition.anchor_id,
            _compare(FanLevel.level, condition.op, condition.value),
        )
    )


def members_query(rule: RuleGroup, *, dialect: str) -> Select[Any]:
    """The user ids of consumers whose stored portrait matches the rule."""
    return select(ConsumerPortrait.user_id).where(_condition(rule, dialect))


def count_query(rule: RuleGroup, *, dialect: str) -> Select[Any]:
    """How many stored portraits match the rule."""
    return select(func.count()).select_from(ConsumerPortrait).where(_condition(rule, dialect))


def field_menu() -> list[dict[str, str]]:
    """The whitelisted fields with their type and label (for the segment builder page)."""
    return [
        {"field": name, "kind": kind.value, "label": label}
        for name, (_, kind, label) in FIELDS.items()
    ]


# Columns of a segment's CSV export after the user id: scores, no names or e-mails.
EXPORT_FIELDS = (
    "orders",
    "spend_minor",
    "recency_days",
    "p_alive",
    "expected_purchases_30d",
    "expected_value_minor",
)


def export_query(rule: RuleGroup, *, dialect: str) -> Select[Any]:
    """Members of the rule with their export fields, by user id."""
    columns = [FIELDS[name][0] for name in EXPORT_FIELDS]
    return (
        select(ConsumerPortrait.user_id, *columns)
        .where(_condition(rule, dialect))
        .order_by(ConsumerPortrait.user_id)
    )


def affinity_keys_query(kind: str) -> Select[Any]:
    """The distinct keys of one kind of affinity (the brands with a stage track)."""
    return (
        select(ConsumerAffinity.key)
        .where(ConsumerAffinity.kind == kind)
        .distinct()
        .order_by(ConsumerAffinity.key)
    )


def prelive_query(
    anchor_id: int,
) -> Select[int, int | None, int, float | None, float | None]:
    """Every portrayed consumer with their fan level with the anchor (or null), sessions
    watched, P(alive) and expected purchases: the pre-live ranking's inputs."""
    return (
        select(
            ConsumerPortrait.user_id,
            FanLevel.level,
            ConsumerPortrait.sessions_watched,
            ConsumerPortrait.p_alive,
            ConsumerPortrait.expected_purchases_30d,
        )
        .outerjoin(
            FanLevel,
            and_(FanLevel.user_id == ConsumerPortrait.user_id, FanLevel.anchor_id == anchor_id),
        )
        .order_by(ConsumerPortrait.user_id)
    )
