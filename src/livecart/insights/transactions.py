"""Transaction and summary files into per-customer purchase days and RFM-style summaries.

Layouts: CDNOW (`customer_id date(YYYYMMDD) number_of_cds dollar_value`, whitespace
separated, one header line) and UCI Online Retail (CSV with `InvoiceNo, Quantity,
InvoiceDate, UnitPrice, CustomerID`; invoices starting with C are cancellations). As in the
customer-base literature, all purchases of a customer on one day are one transaction.
Spend is kept in integer minor units (cents) until the model needs a number.

The line parsers (`read_cdnow_lines`, `read_retail_lines`) are shared with the importers
(`insights/importers.py`), which keep every line instead of summing purchase days.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import numpy as np

from livecart.insights.clv import Array
from livecart.insights.errors import InputFileMissing, InvalidInputFile

Layout = Literal["cdnow", "online-retail"]
LAYOUTS: tuple[Layout, ...] = ("cdnow", "online-retail")
Progress = Callable[[int], None]

CDNOW_HEADER = ["customer_id", "date", "number_of_cds", "dollar_value"]
RETAIL_COLUMNS = ["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
SUMMARY_COLUMNS = ["ID", "frequency", "recency", "T"]
DAYS_PER_WEEK = 7.0
# How many bad lines an error message and its details name; the count is always complete.
SHOWN_PROBLEMS = 20
_PROGRESS_EVERY = 2048
_CENT = Decimal(1)


@dataclass(frozen=True)
class LineProblem:
    """One line of an input file that could not be read, and why."""

    line: int
    message: str


@dataclass(frozen=True)
class CdnowLine:
    """One CDNOW purchase line: the customer, the day, the CDs and the spend in cents."""

    customer_id: str
    day: date
    cds: int
    minor: int


@dataclass(frozen=True)
class RetailLine:
    """One Online Retail invoice line as written (quantity negative on cancellations)."""

    invoice: str
    stock_code: str
    description: str
    quantity: Decimal
    invoiced_at: datetime
    unit_price: Decimal
    customer_id: str | None
    country: str

    @property
    def cancellation(self) -> bool:
        """Invoices starting with C cancel (return) earlier lines."""
        return self.invoice.upper().startswith("C")


@dataclass
class TransactionLog:
    """Every customer's purchase days with the spend of each day, in minor units."""

    purchases: dict[str, dict[date, int]] = field(default_factory=dict)
    data_lines: int = 0
    problems: list[LineProblem] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)

    def add(self, customer_id: str, day: date, minor: int) -> None:
        """Record a purchase line; lines of the same customer and day add up."""
        days = self.purchases.setdefault(customer_id, {})
        days[day] = days.get(day, 0) + minor

    def exclude(self, reason: str) -> None:
        """Count a valid line that is not a purchase (a cancellation, an anonymous buyer)."""
        self.excluded[reason] = self.excluded.get(reason, 0) + 1


@dataclass(frozen=True)
class SummaryFile:
    """A `ID,frequency,recency,T` file as arrays (repeat purchases, recency and age in weeks)."""

    customer_ids: list[str]
    frequency: Array
    recency: Array
    age: Array
    problems: list[LineProblem]


@dataclass(frozen=True)
class CalibrationSummary:
    """Per customer of the calibration cohort: x, recency, T (weeks), mean repeat spend."""

    calibration_end: date
    customer_ids: list[str]
    first_day: list[date]
    frequency: Array
    recency: Array
    age: Array
    mean_spend: Array
    new_after_calibration: int


def problems_error(path: Path, problems: list[LineProblem]) -> InvalidInputFile:
    """The error for a file with unreadable lines, naming the first ones by line number."""
    shown = problems[:SHOWN_PROBLEMS]
    listed = "; ".join(f"line {p.line}: {p.message}" for p in shown)
    more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
    return InvalidInputFile(
        f"{path}: {len(problems)} unreadable line(s): {listed}{more}",
        details={
            "file": str(path),
            "count": len(problems),
            "lines": [{"line": p.line, "message": p.message} for p in shown],
        },
    )


def numbered_lines(path: Path, progress: Progress | None) -> Iterator[tuple[int, str]]:
    """Numbered lines of a text file; bytes that are not UTF-8 become U+FFFD, not a crash."""
    if not path.is_file():
        raise InputFileMissing(f"{path}: no such file", details={"file": str(path)})
    # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the first field.
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        done = 0
        for number, line in enumerate(handle, start=1):
            done += len(line)
            if progress is not None and number % _PROGRESS_EVERY == 0:
                progress(done)
                done = 0
            yield number, line
        if progress is not None:
            progress(done)


def minor_units(amount: Decimal) -> int:
    """An amount in major units (dollars, pounds) as whole minor units, half to even."""
    return int((amount * 100).quantize(_CENT, rounding=ROUND_HALF_EVEN))


def parse_decimal(text: str, name: str) -> Decimal:
    """A finite decimal number, else a ValueError naming the field."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{name} {text!r} is not a finite number")
    return value


def parse_cdnow_fields(fields: list[str]) -> CdnowLine:
    """One whitespace-split CDNOW data line; a ValueError says what is wrong with it."""
    if len(fields) != 4:
        raise ValueError(f"expected 4 fields ({' '.join(CDNOW_HEADER)}), found {len(fields)}")
    customer, day_text, cds, dollars = fields
    try:
        # Sliced rather than strptime: the same result for 8 ASCII digits, and 4 times faster.
        if len(day_text) != 8 or not day_text.isascii() or not day_text.isdigit():
            raise ValueError
        day = date(int(day_text[:4]), int(day_text[4:6]), int(day_text[6:]))
    except ValueError:
        raise ValueError(f"date {day_text!r} is not YYYYMMDD") from None
    if not cds.isdigit():
        raise ValueError(f"number_of_cds {cds!r} is not a whole number")
    amount = parse_decimal(dollars, "dollar_value")
    if amount < 0:
        raise ValueError(f"dollar_value {dollars!r} is negative")
    return CdnowLine(customer, day, int(cds), minor_units(amount))


def read_cdnow_lines(
    path: Path, *, on_line: Callable[[int, CdnowLine], None], progress: Progress | None = None
) -> tuple[int, list[LineProblem]]:
    """Feed each CDNOW data line to `on_line`; returns the data lines and the unreadable ones.

    A ValueError raised by `on_line` counts as a problem of that line too.
    """
    data_lines = 0
    problems: list[LineProblem] = []
    for number, line in numbered_lines(path, progress):
        fields = line.split()
        if number == 1:
            if fields != CDNOW_HEADER:
                raise InvalidInputFile(
                    f"{path}: line 1 must be the CDNOW header {' '.join(CDNOW_HEADER)!r}, "
                    f"found {line.strip()[:120]!r}",
                    details={"file": str(path), "line": 1},
                )
            continue
        if not fields:
            continue
        data_lines += 1
        try:
            on_line(number, parse_cdnow_fields(fields))
        except ValueError as exc:
            problems.append(LineProblem(number, str(exc)))
    return data_lines, problems


def _read_cdnow(path: Path, progress: Progress | None) -> TransactionLog:
    log = TransactionLog()

    def add(_: int, line: CdnowLine) -> None:
        log.add(line.customer_id, line.day, line.minor)

    log.data_lines, log.problems = read_cdnow_lines(path, on_line=add, progress=progress)
    return log


_RETAIL_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M")


def _retail_time(text: str) -> datetime:
    for pattern in _RETAIL_DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
    raise ValueError(f"InvoiceDate {text!r} is not a date and time")


def _retail_customer(text: str) -> str:
    # pandas exports wrote the ids as floats ("12923.0"); the id is the integer.
    value = text.strip()
    return value[:-2] if value.endswith(".0") else value


def parse_retail_row(row: dict[str, str]) -> RetailLine:
    """One Online Retail CSV row by column name; a ValueError says what is wrong with it."""
    values = {name: row.get(name, "").strip() for name in RETAIL_COLUMNS}
    invoiced_at = _retail_time(values["InvoiceDate"])
    quantity = parse_decimal(values["Quantity"], "Quantity")
    price = parse_decimal(values["UnitPrice"], "UnitPrice")
    if not values["InvoiceNo"]:
        raise ValueError("InvoiceNo is empty")
    return RetailLine(
        invoice=values["InvoiceNo"],
        stock_code=row.get("StockCode", "").strip(),
        description=row.get("Description", "").strip(),
        quantity=quantity,
        invoiced_at=invoiced_at,
        unit_price=price,
        customer_id=_retail_customer(values["CustomerID"]) if values["CustomerID"] else None,
        country=row.get("Country", "").strip(),
    )


def _add_retail(log: TransactionLog, line: RetailLine) -> None:
    if line.cancellation:
        log.exclude("cancellations")
    elif line.customer_id is None:
        log.exclude("no_customer")
    elif line.quantity <= 0 or line.unit_price < 0:
        log.exclude("not_a_sale")  # stock adjustments written as invoices
    else:
        log.add(
            line.customer_id, line.invoiced_at.date(), minor_units(line.quantity * line.unit_price)
        )


def _read_csv(
    path: Path,
    *,
    required: list[str],
    what: str,
    row: Callable[[int, dict[str, str]], None],
    progress: Progress | None,
) -> tuple[int, list[LineProblem]]:
    """Feed each data row and its first line number to `row`; its ValueErrors become problems."""
    # csv needs the text back; quoted fields may hold newlines, so csv's own line count is used.
    reader = csv.reader(io.StringIO("".join(line for _, line in numbered_lines(path, progress))))
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        header = [f"unreadable: {exc}"]
    missing = [name for name in required if name not in header]
    if missing:
        raise InvalidInputFile(
            f"{path}: line 1 must name the {what} columns {','.join(required)}; "
            f"missing {', '.join(missing)}",
            details={"file": str(path), "line": 1, "missing": missing},
        )
    rows = 0
    problems: list[LineProblem] = []
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
            if not any(field.strip() for field in fields):
                continue
            rows += 1
            if len(fields) != len(header):
                raise ValueError(f"{len(fields)} fields, the header names {len(header)}")
            row(start, dict(zip(header, fields, strict=False)))
        except StopIteration:
            return rows, problems
        except (ValueError, csv.Error) as exc:
            problems.append(LineProblem(start, str(exc)))


def read_retail_lines(
    path: Path, *, on_line: Callable[[int, RetailLine], None], progress: Progress | None = None
) -> tuple[int, list[LineProblem]]:
    """Feed each Online Retail row to `on_line`; returns the data rows and the unreadable ones.

    A ValueError raised by `on_line` counts as a problem of that row too.
    """
    return _read_csv(
        path,
        required=RETAIL_COLUMNS,
        what="Online Retail",
        row=lambda number, values: on_line(number, parse_retail_row(values)),
        progress=progress,
    )


def _read_online_retail(path: Path, progress: Progress | None) -> TransactionLog:
    log = TransactionLog()
    log.data_lines, log.problems = read_retail_lines(
        path, on_line=lambda _, line: _add_retail(log, line), progress=progress
    )
    return log


def read_transactions(
    path: Path, *, layout: Layout, progress: Progress | None = None
) -> TransactionLog:
    """Read a CDNOW or Online Retail file; unreadable lines are listed in `problems`."""
    if layout == "cdnow":
        log = _read_cdnow(path, progress)
    elif layout == "online-retail":
        log = _read_online_retail(path, progress)
    else:  # pragma: no cover - Typer restricts the choice
        raise InvalidInputFile(f"unknown layout {layout!r}")
    if log.data_lines == 0:
        raise InvalidInputFile(f"{path}: no transactions in the file", details={"file": str(path)})
    return log


def _summary_row(fields: dict[str, str]) -> tuple[str, float, float, float]:
    values = {name: fields.get(name, "").strip() for name in SUMMARY_COLUMNS}
    numbers: dict[str, float] = {}
    for name in SUMMARY_COLUMNS[1:]:
        number = float(parse_decimal(values[name], name))
        if number < 0:
            raise ValueError(f"{name} {values[name]!r} is negative")
        numbers[name] = number
    if numbers["frequency"] != int(numbers["frequency"]):
        raise ValueError(f"frequency {values['frequency']!r} is not a whole number")
    if numbers["recency"] > numbers["T"]:
        raise ValueError(f"recency {values['recency']} is after T {values['T']}")
    if not values["ID"]:
        raise ValueError("ID is empty")
    return values["ID"], numbers["frequency"], numbers["recency"], numbers["T"]


def read_summary(path: Path) -> SummaryFile:
    """Read `ID,frequency,recency,T` (weeks); unreadable lines are listed in `problems`."""
    ids: list[str] = []
    rows: list[tuple[float, float, float]] = []

    def add(_: int, values: dict[str, str]) -> None:
        customer, frequency, recency, age = _summary_row(values)
        ids.append(customer)
        rows.append((frequency, recency, age))

    count, problems = _read_csv(
        path, required=SUMMARY_COLUMNS, what="summary", row=add, progress=None
    )
    if count == 0:
        raise InvalidInputFile(f"{path}: no customers in the file", details={"file": str(path)})
    table = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return SummaryFile(ids, table[:, 0], table[:, 1], table[:, 2], problems)


def _id_order(customer_id: str) -> tuple[int, str]:
    return (len(customer_id), customer_id)  # numeric ids of any width in numeric order


def calibration_summary(log: TransactionLog, calibration_end: date) -> CalibrationSummary:
    """x (repeat purchase days), recency and T (weeks), mean repeat spend, to calibration_end."""
    ids: list[str] = []
    first_days: list[date] = []
    rows: list[tuple[float, float, float, float]] = []
    new_after = 0
    for customer in sorted(log.purchases, key=_id_order):
        days = log.purchases[customer]
        in_calibration = sorted(day for day in days if day <= calibration_end)
        if not in_calibration:
            new_after += 1
            continue
        first, last = in_calibration[0], in_calibration[-1]
        repeats = in_calibration[1:]
        mean_spend = sum(days[d] for d in repeats) / len(repeats) / 100 if repeats else 0.0
        ids.append(customer)
        first_days.append(first)
        rows.append(
            (
                float(len(repeats)),
                (last - first).days / DAYS_PER_WEEK,
                (calibration_end - first).days / DAYS_PER_WEEK,
                mean_spend,
            )
        )
    if not ids:
        raise InvalidInputFile(
            f"no customer bought on or before the calibration end {calibration_end.isoformat()}"
        )
    table = np.array(rows, dtype=np.float64)
    return CalibrationSummary(
        calibration_end=calibration_end,
        customer_ids=ids,
        first_day=first_days,
        frequency=table[:, 0],
        recency=table[:, 1],
        age=table[:, 2],
        mean_spend=table[:, 3],
        new_after_calibration=new_after,
    )


def holdout_days(
    log: TransactionLog, summary: CalibrationSummary, horizon_days: int
) -> list[list[int]]:
    """Per calibration customer, the purchase days after calibration_end (1 = the next day)."""
    end = summary.calibration_end
    last = end + timedelta(days=horizon_days)
    return [
        sorted((day - end).days for day in log.purchases[customer] if end < day <= last)
        for customer in summary.customer_ids
    ]


def repeat_days_since(log: TransactionLog, summary: CalibrationSummary, start: date) -> list[int]:
    """Every repeat purchase day of the calibration cohort, as days since `start`."""
    offsets: list[int] = []
    for customer, first in zip(summary.customer_ids, summary.first_day, strict=True):
        offsets.extend((day - start).days for day in log.purchases[customer] if day > first)
    return offsets
