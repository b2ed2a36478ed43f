"""Errors of the insights domain."""

from __future__ import annotations

from livecart.core.errors import Conflict, DomainError, InvalidInput, NotFound


class InputFileMissing(NotFound):
    code = "input_file_missing"


class InvalidInputFile(InvalidInput):
    """A transactions or summary file with a wrong header or unparsable lines."""

    code = "invalid_input_file"


class InvalidSummary(InvalidInput):
    code = "invalid_summary"


class FitFailed(DomainError):
    status = 422
    code = "fit_failed"


class ImportWriteFailed(DomainError):
    """The event log could not be written; nothing of the file was imported."""

    status = 500
    code = "import_write_failed"


class AlreadyImported(Conflict):
    """The same file (by SHA-256) was imported into this event log before."""

    code = "already_imported"


class PortraitNotFound(NotFound):
    """No stored portrait for this consumer (no portrait run has seen them yet)."""

    code = "portrait_not_found"
