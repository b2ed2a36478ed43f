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
