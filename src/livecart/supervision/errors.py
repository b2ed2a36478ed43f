"""Errors of the supervision domain."""

from __future__ import annotations

from livecart.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied


class ComplianceBlocked(InvalidInput):
    """Text that breaks a blocking compliance rule; `details.hits` lists every hit."""

    code = "compliance_blocked"


class LexiconInvalid(InvalidInput):
    """A compliance lexicon file that cannot be read, parsed or compiled."""

    code = "compliance_lexicon_invalid"


# ---------------------------------------------------------------- sanctions and risk (issue 5, F)


class AuditAppendOnly(Conflict):
    """The audit log refused to change a row it holds (it is append-only)."""

    code = "audit_append_only"


class Sanctioned(PermissionDenied):
    """Refused because of a supervision sanction; `details.sanction_id` names it."""

    code = "sanctioned"


class AnchorSuspended(Sanctioned):
    code = "anchor_suspended"


class RoomSuspended(Sanctioned):
    code = "room_suspended"


class ProductDelisted(Sanctioned):
    code = "product_delisted"


class FlashSaleFrozen(Sanctioned):
    code = "flash_sale_frozen"


class SanctionNotFound(NotFound):
    code = "sanction_not_found"


class SanctionSubjectInvalid(InvalidInput):
    code = "sanction_subject_invalid"


class AppealNotAllowed(Conflict):
    """Only the sanctioned party appeals, once, while the sanction holds."""

    code = "appeal_not_allowed"


class AppealNotPending(Conflict):
    code = "appeal_not_pending"


class ReportNotFound(NotFound):
    code = "report_not_found"


class ReportTransitionInvalid(Conflict):
    code = "report_transition_invalid"


class ReportTargetMissing(InvalidInput):
    code = "report_target_missing"
