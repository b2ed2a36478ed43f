"""Errors of the supervision domain."""

from __future__ import annotations

from livecart.core.errors import InvalidInput


class ComplianceBlocked(InvalidInput):
    """Text that breaks a blocking compliance rule; `details.hits` lists every hit."""

    code = "compliance_blocked"


class LexiconInvalid(InvalidInput):
    """A compliance lexicon file that cannot be read, parsed or compiled."""

    code = "compliance_lexicon_invalid"
