"""The will-buy model's method on real data: the Taobao UserBehavior log (pv, cart, fav, buy).

Taobao has no live sessions, so a person's events are cut into browsing sessions: a new one
starts after a gap of more than `gap_minutes` (30) with no event. One row per session and
distinct event time t before the session's first buy: features are what the person did in the
session up to and including t (and their buys and sessions before it); the label is a buy
later in the same session (time > t). Rows at or after the first buy are left out, as the live
model leaves out viewers who already ordered. Same time-based split and model as the live one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from livecart.insights.errors import InputFileMissing, InvalidInputFile
from livecart.insights.willbuy import Rows

TAOBAO_FEATURES: tuple[str, ...] = (
    "pv",  # page views so far in the session
    "carts",
    "favs",
    "distinct_items",
    "distinct_categories",
    "seconds_in_session",  # t minus the session's first event
    "past_buys",  # buy rows before the session
    "past_sessions",
)
BEHAVIOURS = ("pv", "cart", "fav", "buy")


@dataclass(frozen=True)
class TaobaoEvent:
    user: int
    item: int
    category: int
    behaviour: str
    at: int  # Unix seconds


@dataclass(frozen=True)
class TaobaoRows:
    rows: Rows
    events: int
    people: int
    sessions: int
    sessions_with_buy: int


def read_taobao(path: Path) -> list[TaobaoEvent]:
    """The CSV's lines (no header); a bad line fails with its line number."""
    if not path.is_file():
        raise InputFileMissing(f"no file at {path}", details={"path": str(path)})
    out: list[TaobaoEvent] = []
    with path.open(newline="") as handle:
        for number, fields in enumerate(csv.reader(handle), start=1):
            if not fields:
                continue
            try:
                user, item, category, behaviour, at = fields
                if behaviour not in BEHAVIOURS:
                    raise ValueError(behaviour)
                out.append(TaobaoEvent(int(user), int(item), int(category), behaviour, int(at)))
            except ValueError as exc:
                raise InvalidInputFile(
                    f"{path}: line {number} is not user,item,category,pv|cart|fav|buy,time",
                    details={"line": number},
                ) from exc
    return out


def taobao_rows(events: list[TaobaoEvent], *, gap_minutes: int = 30) -> TaobaoRows:
    """Sessionise per person and build the rows (see the module's docstring)."""
    by_user: dict[int, list[TaobaoEvent]] = {}
    for event in events:
        by_user.setdefault(event.user, []).append(event)
    gap = gap_minutes * 60
    keys: list[tuple[int, int, int, int]] = []  # session number, user, t, session start
    features: list[list[float]] = []
    labels: list[int] = []
    session_number = 0
    sessions_with_buy = 0
    for user in sorted(by_user):
        history = sorted(by_user[user], key=lambda e: (e.at, BEHAVIOURS.index(e.behaviour)))
        sessions: list[list[TaobaoEvent]] = []
        for event in history:
            if not sessions or event.at - sessions[-1][-1].at > gap:
                sessions.append([])
            sessions[-1].append(event)
        past_buys = 0
        for index, session in enumerate(sessions):
            session_number += 1
            start = session[0].at
            buys = [e.at for e in session if e.behaviour == "buy"]
            first_buy = min(buys) if buys else None
            sessions_with_buy += first_buy is not None
            times = sorted({e.at for e in session})
            for t in times:
                if first_buy is not None and t >= first_buy:
                    break  # bought already: not asked any more
                seen = [e for e in session if e.at <= t]
                kinds = [e.behaviour for e in seen]
                features.append(
                    [
                        float(kinds.count("pv")),
                        float(kinds.count("cart")),
                        float(kinds.count("fav")),
                        float(len({e.item for e in seen})),
                        float(len({e.category for e in seen})),
                        float(t - start),
                        float(past_buys),
                        float(index),
                    ]
                )
                labels.append(int(first_buy is not None and first_buy > t))
                keys.append((session_number, user, t, start))
            past_buys += len(buys)
    rows = Rows(
        session_id=np.array([k[0] for k in keys], dtype=np.int64),
        viewer=np.array([k[1] for k in keys], dtype=np.int64),
        cutoff=[datetime.fromtimestamp(k[2], UTC) for k in keys],
        session_start=[datetime.fromtimestamp(k[3], UTC) for k in keys],
        features=np.array(features, dtype=np.float64).reshape(len(keys), len(TAOBAO_FEATURES)),
        label=np.array(labels, dtype=np.int64),
    )
    return TaobaoRows(
        rows=rows,
        events=len(events),
        people=len(by_user),
        sessions=session_number,
        sessions_with_buy=sessions_with_buy,
    )
