"""Outside behaviour logs into the event log: Taobao UserBehavior, CDNOW and Online Retail.

Every line of an outside file becomes one behaviour event in the log the platform writes
(same Parquet schema, same day partitions), with `source` = `import:<format>`, so the
portrait pipelines read one log. Outside people are not livecart users: `consumer_id` stays
null and `anonymous_id` is `<format>:<their id>`; outside item, category and invoice ids stay
in `properties`, no livecart product is made up. Event ids are uuid5 of the format, the line
number and the line's fields, so the same line always gets the same id.

`_imports.json` in the log root lists the imported files by SHA-256 and the same file is
refused a second time. Nothing appears in the log until the whole file has been read: the
events are staged under hidden names and published together (`events.sink.StagedLogFiles`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from livecart.events.schemas import BehaviourEvent, EventType
from livecart.events.sink import StagedLogFiles
from livecart.insights.errors import (
    AlreadyImported,
    ImportWriteFailed,
    InputFileMissing,
    InvalidInputFile,
)
from livecart.insights.schemas import BadLineOut, ImportReport
from livecart.insights.transactions import (
    CdnowLine,
    LineProblem,
    Progress,
    RetailLine,
    minor_units,
    numbered_lines,
    problems_error,
    read_cdnow_lines,
    read_retail_lines,
)

Format = Literal["taobao", "cdnow", "online-retail"]
FORMATS: tuple[Format, ...] = ("taobao", "cdnow", "online-retail")
# Spark and Hive skip names starting with "_" when they read the log's folder.
MANIFEST = "_imports.json"
TAOBAO_COLUMNS = "user_id,item_id,category_id,behavior_type,timestamp"
TAOBAO_BEHAVIOURS = {
    "pv": EventType.DETAIL_VIEW,
    "cart": EventType.ADD_TO_CART,
    "fav": EventType.FAVOURITE,
    "buy": EventType.ORDER,
}
CURRENCY = {"cdnow": "USD", "online-retail": "GBP"}
# Online Retail's InvoiceDate is the UK shop's wall clock.
RETAIL_TIME_ZONE = "Europe/London"
# Events held in memory before they are staged to hidden files (bounds memory on big files).
CHUNK_EVENTS = 200_000
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://livecart.invalid/imports")
_WHOLE = re.compile(r"[0-9]+")


def event_id(fmt: Format, line: int, fields: Sequence[str]) -> str:
    """The id of the event made from one line: the same line always gets the same id."""
    return uuid.uuid5(_NAMESPACE, "\x1f".join([fmt, str(line), *fields])).hex


@dataclass
class _Import:
    """Events of one file as they are read, staged to hidden files a chunk at a time."""

    fmt: Format
    staged: StagedLogFiles
    chunk: int = CHUNK_EVENTS
    pending: list[BehaviourEvent] = field(default_factory=list)
    by_type: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    without_customer: int = 0
    imported: int = 0

    def event(
        self,
        line: int,
        fields: Sequence[str],
        kind: EventType,
        occurred_at: datetime,
        *,
        customer: str | None,
        **values: Any,
    ) -> None:
        """Add the event made from one line."""
        if customer is None:
            self.without_customer += 1
        self.pending.append(
            BehaviourEvent(
                event_id=event_id(self.fmt, line, fields),
                event_type=kind,
                occurred_at=occurred_at,
                source=f"import:{self.fmt}",
                anonymous_id=None if customer is None else f"{self.fmt}:{customer}",
                **values,
            )
        )
        self.by_type[kind.value] += 1
        if len(self.pending) >= self.chunk:
            self.stage()

    def stage(self) -> None:
        """Write the events held so far to hidden files."""
        try:
            self.imported += self.staged.stage(self.pending)
        except OSError as exc:
            raise _write_failed(self.staged.root, exc) from exc
        except ValueError as exc:
            # Not a bad line: the readers would file a ValueError under the current line.
            raise RuntimeError(f"writing imported events failed: {exc}") from exc
        self.pending = []


def _write_failed(root: Path, exc: OSError) -> ImportWriteFailed:
    return ImportWriteFailed(
        f"writing the events to {root} failed ({exc}); nothing of the file was imported",
        details={"log": str(root)},
    )


def _taobao_line(job: _Import, number: int, text: str) -> None:
    fields = [value.strip() for value in text.split(",")]
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields ({TAOBAO_COLUMNS}), found {len(fields)}")
    user, item, category, behaviour, stamp = fields
    for name, value in zip(("user_id", "item_id", "category_id"), fields, strict=False):
        if not _WHOLE.fullmatch(value):
            raise ValueError(f"{name} {value[:40]!r} is not a whole number")
    kind = TAOBAO_BEHAVIOURS.get(behaviour)
    if kind is None:
        raise ValueError(f"behavior_type {behaviour[:40]!r} is not one of pv, cart, fav, buy")
    if not _WHOLE.fullmatch(stamp):
        raise ValueError(f"timestamp {stamp[:40]!r} is not whole seconds since 1970")
    try:
        occurred_at = datetime.fromtimestamp(int(stamp), UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"timestamp {stamp[:40]!r} is out of range") from None
    job.event(
        number,
        fields,
        kind,
        occurred_at,
        customer=user,
        properties={"item_id": item, "category_id": category},
    )


def _read_taobao(
    path: Path, job: _Import, progress: Progress | None
) -> tuple[int, list[LineProblem]]:
    lines = 0
    problems: list[LineProblem] = []
    for number, text in numbered_lines(path, progress):
        if not text.strip():
            continue
        lines += 1
        try:
            _taobao_line(job, number, text)
        except ValueError as exc:
            problems.append(LineProblem(number, str(exc)))
    return lines, problems


def _read_cdnow(
    path: Path, job: _Import, progress: Progress | None
) -> tuple[int, list[LineProblem]]:
    def on_line(number: int, line: CdnowLine) -> None:
        fields = [line.customer_id, line.day.isoformat(), str(line.cds), str(line.minor)]
        job.event(
            number,
            fields,
            EventType.ORDER,
            datetime.combine(line.day, time(), UTC),
            customer=line.customer_id,
            quantity=line.cds,
            amount=line.minor,
            currency=CURRENCY["cdnow"],
        )

    return read_cdnow_lines(path, on_line=on_line, progress=progress)


def _read_online_retail(
    path: Path, job: _Import, progress: Progress | None
) -> tuple[int, list[LineProblem]]:
    zone = ZoneInfo(RETAIL_TIME_ZONE)

    def on_line(number: int, line: RetailLine) -> None:
        if line.quantity != line.quantity.to_integral_value():
            raise ValueError(f"Quantity {str(line.quantity)!r} is not a whole number")
        if line.cancellation:
            kind = EventType.RETURN
        elif line.quantity <= 0 or line.unit_price < 0:
            job.skipped["not_a_sale"] += 1  # stock adjustments and write-offs, not purchases
            return
        else:
            kind = EventType.ORDER
        fields = [
            line.invoice,
            line.stock_code,
            line.description,
            str(line.quantity),
            line.invoiced_at.isoformat(),
            str(line.unit_price),
            line.customer_id or "",
            line.country,
        ]
        properties = {
            "invoice": line.invoice,
            "stock_code": line.stock_code,
            "description": line.description,
            "country": line.country,
        }
        job.event(
            number,
            fields,
            kind,
            line.invoiced_at.replace(tzinfo=zone).astimezone(UTC),
            customer=line.customer_id,
            # A cancellation's negative quantity is the units given back: a positive return.
            quantity=abs(int(line.quantity)),
            amount=abs(minor_units(line.quantity * line.unit_price)),
            currency=CURRENCY["online-retail"],
            properties={key: value for key, value in properties.items() if value},
        )

    return read_retail_lines(path, on_line=on_line, progress=progress)


_READERS: dict[
    Format, Callable[[Path, _Import, Progress | None], tuple[int, list[LineProblem]]]
] = {
    "taobao": _read_taobao,
    "cdnow": _read_cdnow,
    "online-retail": _read_online_retail,
}


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex."""
    if not path.is_file():
        raise InputFileMissing(f"{path}: no such file", details={"file": str(path)})
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(root: Path) -> list[dict[str, Any]]:
    """The files imported into the log at root, oldest first."""
    path = root / MANIFEST
    if not path.is_file():
        return []
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["imports"]
    return entries


def _write_manifest(root: Path, entries: list[dict[str, Any]]) -> None:
    tmp = root / f".{MANIFEST}.tmp"
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump({"imports": entries}, handle, indent=2, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, root / MANIFEST)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def _log_lock(root: Path) -> Iterator[None]:
    """One import at a time per log, so two of the same file cannot both pass the check."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def import_file(
    root: Path,
    path: Path,
    *,
    fmt: Format,
    now: datetime,
    strict: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import an outside log into the event log at root; bad lines are reported, not imported.

    With `strict`, one bad line refuses the whole file. A file imported before is refused.
    """
    digest = file_sha256(path)
    with _log_lock(root):
        earlier = next((e for e in read_manifest(root) if e["sha256"] == digest), None)
        if earlier is not None:
            raise AlreadyImported(
                f"{path}: this file (sha256 {digest[:12]}) was imported into {root} at "
                f"{earlier['imported_at']} as {earlier['format']} from {earlier['file']} "
                f"({earlier['imported']} events); importing it again would count them twice",
                details={"file": str(path), "sha256": digest, "earlier": earlier},
            )
        with StagedLogFiles(root, tag=f"{fmt}-{digest[:12]}") as staged:
            job = _Import(fmt, staged)
            lines, problems = _READERS[fmt](path, job, progress)
            job.stage()
            if strict and problems:
                failure = problems_error(path, problems)
                raise InvalidInputFile(
                    f"{failure.message}; strict: nothing was imported", details=failure.details
                )
            if job.imported == 0:
                raise InvalidInputFile(
                    f"{path}: no line could be imported as {fmt} "
                    f"({lines} lines, {len(problems)} unreadable)",
                    details={
                        "file": str(path),
                        "lines": lines,
                        "bad": [{"line": p.line, "reason": p.message} for p in problems[:20]],
                    },
                )
            try:
                written = staged.publish()
            except OSError as exc:
                raise _write_failed(root, exc) from exc
        report = ImportReport(
            format=fmt,
            file=str(path),
            sha256=digest,
            lines=lines,
            imported=job.imported,
            bad=[BadLineOut(line=p.line, reason=p.message) for p in problems],
            by_type=dict(sorted(job.by_type.items())),
            skipped=dict(sorted(job.skipped.items())),
            without_customer=job.without_customer,
            log=str(root),
            written=[str(file) for file in written],
        )
        entry = report.model_dump(exclude={"bad", "written", "log"})
        entry.update(
            file=str(path.resolve()),
            bad=len(problems),
            files=len(written),
            imported_at=now.isoformat(),
        )
        _write_manifest(root, [*read_manifest(root), entry])
    return report
