"""Input and output shapes of the accounts domain, and the caller's identity."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import EmailStr, Field

from livecart.core.schemas import InputModel, OutputModel


class Role(StrEnum):
    consumer = "consumer"
    anchor = "anchor"
    merchant = "merchant"
    moderator = "moderator"
    operator = "operator"


@dataclass(frozen=True)
class Identity:
    """Who is calling: what every service receives instead of a request."""

    id: int
    email: str
    display_name: str
    roles: frozenset[Role]
    brand_ids: frozenset[int] = field(default_factory=frozenset)
    moderated_room_ids: frozenset[int] = field(default_factory=frozenset)

    def has(self, role: Role) -> bool:
        """Whether the caller holds the role (in any scope)."""
        return role in self.roles

    @property
    def is_operator(self) -> bool:
        return Role.operator in self.roles


class IdentityCache:
    """Identities loaded recently, for `seconds` (0: never kept), per process.

    A burst of requests by the same people loads each identity once instead of once per
    request (and holds no database connection to do it). Role grants made in this process
    forget the user at once; other workers see them within `seconds`.
    """

    def __init__(self, seconds: float, max_entries: int = 100_000) -> None:
        self.seconds = seconds
        self._max = max_entries
        self._known: dict[int, tuple[Identity, float]] = {}

    def get(self, user_id: int, now: float) -> Identity | None:
        known = self._known.get(user_id)
        if known is None or known[1] <= now:
            return None
        return known[0]

    def put(self, identity: Identity, now: float) -> None:
        if self.seconds <= 0:
            return
        if len(self._known) >= self._max:
            self._known.clear()
        self._known[identity.id] = (identity, now + self.seconds)

    def forget(self, user_id: int) -> None:
        self._known.pop(user_id, None)


class RegisterIn(InputModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    display_name: str = Field(min_length=1, max_length=60)


class RoleGrantIn(InputModel):
    role: Role
    brand_id: int | None = None
    room_id: int | None = None


class GrantOut(OutputModel):
    role: Role
    brand_id: int | None = None
    room_id: int | None = None


class UserOut(OutputModel):
    id: int
    email: str
    display_name: str
    roles: list[Role]
    grants: list[GrantOut] = Field(default_factory=list)


class TokenOut(OutputModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
