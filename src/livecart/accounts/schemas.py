"""Input and output shapes of the accounts domain, and the caller's identity."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

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
    # The consumer's consent to personalisation, as loaded (kept up to `identity_cache_seconds`
    # on other workers); `accounts.service.personalisation_allowed` reads the database.
    personalisation: bool = True

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


# Rows about one person, by table name, each row a dict of column name to value: what every
# domain's `personal_data(session, user_id)` returns for the privacy export.
PersonalRows = dict[str, list[dict[str, Any]]]


class PrivacyIn(InputModel):
    personalisation: bool = Field(
        description="Whether portraits and scores may personalise rankings and marketing."
    )


class PrivacyOut(OutputModel):
    personalisation: bool


class DeleteAccountIn(InputModel):
    password: str = Field(
        min_length=1, max_length=128, description="The account's password, entered again."
    )


class PersonalDataOut(OutputModel):
    """Everything the platform holds about the caller."""

    user_id: int
    exported_at: datetime
    tables: PersonalRows = Field(
        description="Rows about the caller by table name (every personal table, [] if none)."
    )
    behaviour_events: list[dict[str, Any]] = Field(
        description="The caller's events in the behaviour-event log, oldest first."
    )
    not_exported: dict[str, str] = Field(
        description="Personal columns left out on purpose (table.column: why)."
    )


class AccountDeletedOut(OutputModel):
    user_id: int
    pseudonym: str
    deleted_at: datetime
    deleted: dict[str, int] = Field(description="Per table, rows deleted.")
    kept: dict[str, int] = Field(
        description="Per table, rows kept under the pseudonym, personal values erased where "
        "the registry says so (chat texts, sanction reasons)."
    )
    behaviour_events_erased: int = Field(
        description="Events whose text, anonymous id or properties were removed from the log."
    )
