"""Compliance checks other domains call where text enters (products, anchors' chat).

The `Lexicon` is built once by `bootstrap.build_container` and passed in as a keyword
argument, like the clock; see docs/supervision.md, "Where it is enforced".
"""

from __future__ import annotations

from collections.abc import Sequence

from livecart.supervision.compliance import Lexicon, load_lexicon, scan
from livecart.supervision.errors import ComplianceBlocked
from livecart.supervision.schemas import FieldHit, ScanKind

__all__ = ["Lexicon", "chat_refusal", "check_fields", "field_warnings", "load_lexicon"]


def _field_hits(fields: Sequence[tuple[str, ScanKind, str]], *, lexicon: Lexicon) -> list[FieldHit]:
    return [
        FieldHit(field=name, kind=kind, **hit.model_dump())
        for name, kind, text in fields
        for hit in scan(text, kind=kind, lexicon=lexicon).hits
    ]


def check_fields(
    fields: Sequence[tuple[str, ScanKind, str]], *, lexicon: Lexicon
) -> list[FieldHit]:
    """Scan each (field, kind, text): raise ComplianceBlocked listing every hit if a rule
    blocks, else return the warn-only hits."""
    hits = _field_hits(fields, lexicon=lexicon)
    blocking = [hit for hit in hits if hit.action == "block"]
    if blocking:
        rules = sorted({hit.rule_id for hit in blocking})
        names = ", ".join(dict.fromkeys(hit.field for hit in blocking))
        raise ComplianceBlocked(
            f"the {names} breaks compliance rules: {', '.join(rules)}",
            details={"rule_ids": rules, "hits": [hit.model_dump() for hit in hits]},
        )
    return hits


def field_warnings(
    fields: Sequence[tuple[str, ScanKind, str]], *, lexicon: Lexicon
) -> list[FieldHit]:
    """Every hit of stored text, blocking or not (the lexicon may have changed since)."""
    return _field_hits(fields, lexicon=lexicon)


def chat_refusal(text: str, *, lexicon: Lexicon) -> ComplianceBlocked | None:
    """The error for a host's chat message that breaks a blocking rule (kind `chat`), or None."""
    try:
        check_fields([("text", "chat", text)], lexicon=lexicon)
    except ComplianceBlocked as refused:
        return refused
    return None


# ---------------------------------------------------------------- sanctions and risk (issue 5, F)
# The audit log, sanctions and appeals, consumer reports, risk scores and the overturn alert
# live in their own modules (sanctions.py, reports.py, risk.py, overturn.py); other domains,
# the API and the pages reach them through these names.
from livecart.supervision.sanctions import Standing as Standing  # noqa: E402
from livecart.supervision.sanctions import appeal_sanction as appeal_sanction  # noqa: E402
from livecart.supervision.sanctions import audit_log as audit_log  # noqa: E402
from livecart.supervision.sanctions import decide_appeal as decide_appeal  # noqa: E402
from livecart.supervision.sanctions import enforce as enforce  # noqa: E402
from livecart.supervision.sanctions import (  # noqa: E402
    erase_sanction_personal_data as erase_sanction_personal_data,
)
from livecart.supervision.sanctions import get_sanction as get_sanction  # noqa: E402
from livecart.supervision.sanctions import impose_sanction as impose_sanction  # noqa: E402
from livecart.supervision.sanctions import lift_sanction as lift_sanction  # noqa: E402
from livecart.supervision.sanctions import list_sanctions as list_sanctions  # noqa: E402
from livecart.supervision.sanctions import record_audit as record_audit  # noqa: E402
from livecart.supervision.sanctions import (  # noqa: E402
    sanction_personal_data as sanction_personal_data,
)
from livecart.supervision.sanctions import standing as standing  # noqa: E402
