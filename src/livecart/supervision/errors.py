"""Errors of the supervision domain."""

from __future__ import annotations

from livecart.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied


class ComplianceBlocked(InvalidInput):
    """Text that breaks a blocking compliance rule; `details.hits` lists every hit."""

    code = "compliance_blocked"


class LexiconInvalid(InvalidInput):
    """A compliance lexicon file that cannot be read, parsed or compiled."""

    code = "compliance_lexicon_invalid"


# ---------------------------------------------------------------- qualifications and selection (E)


class QualificationMissing(Conflict):
    """The anchor or brand holds no approved record of the kind needed (`details` names it)."""

    code = "qualification_missing"


class QualificationExpired(Conflict):
    """The only approved record of the kind needed is out of date (`details` names it)."""

    code = "qualification_expired"


class AnchorUnderAge(Conflict):
    """The anchor's verified date of birth makes them younger than the minimum age."""

    code = "anchor_under_age"


class ProductNotApproved(Conflict):
    """The product has not been approved for live selling in selection review."""

    code = "product_not_approved_for_live"


class QualificationNotFound(NotFound):
    code = "qualification_not_found"


class SelectionNotFound(NotFound):
    code = "selection_not_found"


class ReviewTransitionInvalid(Conflict):
    """A review decision that the record's current status does not allow."""

    code = "invalid_review_transition"


class SelectionAlreadyOpen(Conflict):
    """The product already has a selection record under review or approved."""

    code = "selection_already_open"


# ------------------------------------------------ end of qualifications and selection (E)


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
