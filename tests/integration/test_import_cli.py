"""`livecart import taobao|cdnow|online-retail FILE`: real samples into the Parquet event log,
counted back with DuckDB against counts the test makes from the files itself; broken files."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from livecart.cli import app
from livecart.events.sink import events_view_sql, log_files
from tests.support import shared_file

runner = CliRunner()
TAOBAO_TYPES = {"pv": "detail_view", "cart": "add_to_cart", "fav": "favourite", "buy": "order"}


def run_import(fmt: str, path: Path, data_dir: Path, *extra: str) -> tuple[int, Any]:
    result = runner.invoke(
        app, ["import", fmt, str(path), "--data-dir", str(data_dir), "--json", *extra]
    )
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else None


def query(data_dir: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        db.execute(events_view_sql(data_dir / "events"))
        return db.execute(sql, list(params)).fetchall()


def cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def test_taobao_sample_imports_every_line_with_its_type(tmp_path: Path) -> None:
    sample = shared_file("taobao_UserBehavior_sample.csv")
    with sample.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    expected_types = Counter(TAOBAO_TYPES[row[3]] for row in rows)
    expected_rows = Counter(
        (f"taobao:{user}", item, category, TAOBAO_TYPES[kind], int(stamp))
        for user, item, category, kind, stamp in rows
    )

    code, report = run_import("taobao", sample, tmp_path)

    assert code == 0, report
    assert report["lines"] == len(rows) and report["imported"] == len(rows)
    assert report["bad"] == []
    assert report["by_type"] == dict(expected_types)
    assert sum(report["by_type"].values()) == 4_321
    counted = dict(query(tmp_path, "SELECT event_type, count(*) FROM events GROUP BY event_type"))
    assert counted == dict(expected_types)
    got = query(
        tmp_path,
        "SELECT anonymous_id, properties, event_type, epoch(occurred_at), consumer_id, source,"
        " date = CAST(occurred_at AS DATE) FROM events",
    )
    assert (
        Counter(
            (anon, json.loads(props)["item_id"], json.loads(props)["category_id"], kind, int(epoch))
            for anon, props, kind, epoch, *_ in got
        )
        == expected_rows
    )
    assert {(consumer, source, same_day) for *_, consumer, source, same_day in got} == {
        (None, "import:taobao", True)
    }
    assert len({anon for anon, *_ in got}) == len({row[0] for row in rows}) == 43
    assert query(tmp_path, "SELECT count(DISTINCT event_id) FROM events") == [(len(rows),)]
    written = sorted(Path(p).resolve() for p in report["written"])
    assert written == [p.resolve() for p in log_files(tmp_path / "events")]

    again = tmp_path / "again"
    assert run_import("taobao", sample, again)[0] == 0
    ids = "SELECT event_id FROM events ORDER BY event_id"
    assert query(again, ids) == query(tmp_path, ids)  # deterministic ids


def test_the_same_file_is_refused_the_second_time(tmp_path: Path) -> None:
    sample = shared_file("taobao_UserBehavior_sample.csv")
    assert run_import("taobao", sample, tmp_path)[0] == 0
    files = log_files(tmp_path / "events")

    code, error = run_import("taobao", sample, tmp_path)
    assert code == 2
    assert error["error"]["code"] == "already_imported"
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(sample.read_bytes())
    result = runner.invoke(app, ["import", "taobao", str(copy), "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "imported" in result.stderr and "twice" in result.stderr

    assert log_files(tmp_path / "events") == files
    assert query(tmp_path, "SELECT count(*) FROM events") == [(4_321,)]
    manifest = json.loads((tmp_path / "events" / "_imports.json").read_text())
    assert [entry["imported"] for entry in manifest["imports"]] == [4_321]


def test_online_retail_sample_imports_cancellations_as_returns(tmp_path: Path) -> None:
    sample = shared_file("online_retail_uci_sample30k.csv")
    with sample.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    returns = [r for r in rows if r["InvoiceNo"].startswith("C")]
    sales = [
        r
        for r in rows
        if not r["InvoiceNo"].startswith("C")
        and Decimal(r["Quantity"]) > 0
        and Decimal(r["UnitPrice"]) >= 0
    ]
    imported = returns + sales

    code, report = run_import("online-retail", sample, tmp_path)

    assert code == 0, report
    assert report["lines"] == len(rows) == 30_000
    assert report["bad"] == []
    assert report["by_type"] == {"order": len(sales), "return": len(returns)}
    assert report["skipped"] == {"not_a_sale": len(rows) - len(imported)}
    assert report["without_customer"] == sum(not r["CustomerID"] for r in imported)
    assert len(returns) > 600
    totals = query(
        tmp_path,
        "SELECT event_type, count(*), sum(quantity), sum(amount), min(quantity), min(amount),"
        " count(anonymous_id), min(currency), max(currency) FROM events GROUP BY event_type",
    )
    for kind, lines in (("return", returns), ("order", sales)):
        row = next(t for t in totals if t[0] == kind)
        quantity = sum(abs(int(r["Quantity"])) for r in lines)
        amount = sum(abs(cents(Decimal(r["Quantity"]) * Decimal(r["UnitPrice"]))) for r in lines)
        assert row[1:4] == (len(lines), quantity, amount), kind
        assert row[4] > 0 and row[5] >= 0  # returns are positive units and money
        assert row[6] == sum(bool(r["CustomerID"]) for r in lines)
        assert row[7] == row[8] == "GBP"

    # InvoiceDate is London time: a summer line is one hour earlier in UTC, a winter one not.
    for month, offset in (("2011-07", 1), ("2011-01", 0)):
        line = next(r for r in rows if r["InvoiceDate"].startswith(month) and r["CustomerID"])
        local = datetime.strptime(line["InvoiceDate"], "%Y-%m-%d %H:%M:%S")
        found = query(
            tmp_path,
            "SELECT epoch(occurred_at), anonymous_id FROM events"
            " WHERE properties::JSON->>'invoice' = ? AND properties::JSON->>'stock_code' = ?",
            line["InvoiceNo"],
            line["StockCode"],
        )
        expected = local.replace(tzinfo=UTC).timestamp() - 3600 * offset
        assert (expected, f"online-retail:{line['CustomerID'].removesuffix('.0')}") in found


def test_cdnow_master_imports_every_purchase(tmp_path: Path) -> None:
    master = shared_file("cdnow_CDNOW_master.txt")
    lines = [line.split() for line in master.read_text().splitlines()[1:] if line.strip()]

    code, report = run_import("cdnow", master, tmp_path)

    assert code == 0, report
    assert report["imported"] == report["lines"] == len(lines) == 69_659
    assert report["by_type"] == {"order": len(lines)}
    got = query(
        tmp_path,
        "SELECT count(*), sum(quantity), sum(amount), count(DISTINCT anonymous_id),"
        " epoch(min(occurred_at)), epoch(max(occurred_at)), count(DISTINCT date), min(currency)"
        " FROM events",
    )
    assert got[0][:4] == (
        len(lines),
        sum(int(cds) for _, _, cds, _ in lines),
        sum(cents(Decimal(dollars)) for *_, dollars in lines),
        len({customer for customer, *_ in lines}),
    )
    days = sorted({day for _, day, _, _ in lines})
    assert got[0][4:] == (
        datetime.strptime(days[0], "%Y%m%d").replace(tzinfo=UTC).timestamp(),
        datetime.strptime(days[-1], "%Y%m%d").replace(tzinfo=UTC).timestamp(),
        len(days),
        "USD",
    )
    assert len(report["written"]) == len(days)  # one file per day


BROKEN = {
    "taobao": (
        "1,100,10,pv,1511544070\n"
        "1,100,10,pv\n"  # 2: four fields
        "2,abc,10,cart,1511544070\n"  # 3: not a number
        "\n"
        "2,101,10,like,1511544070\n"  # 5: unknown behaviour
        "3,102,11,buy,15115x4070\n"  # 6: bad timestamp
        "3,102,11,fav,1511544071\n",
        {2: "expected 5 fields", 3: "item_id", 5: "behavior_type", 6: "timestamp"},
    ),
    "cdnow": (
        " customer_id  date number_of_cds  dollar_value\n"
        " 00001 19970101  1   11.77\n"
        " 00001 1997-01-02  1   11.77\n"  # 3: bad date
        " 00002 19970112  x   12.00\n"  # 4: bad number
        " 00002 19970112  1\n"  # 5: three fields
        " 00003 19970230  1   3.00\n"  # 6: no such day
        " 00003 19970301  2   13.50\n",
        {3: "date", 4: "number_of_cds", 5: "expected 4 fields", 6: "date"},
    ),
    "online-retail": (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        '536365,85123A,"WHITE HANGING, HEART",6,2010-12-01 08:26:00,2.55,17850.0,UK\n'
        "536366,22633,HAND WARMER,two,2010-12-01 08:28:00,1.85,17850.0,UK\n"  # 3: not a number
        "536367,22633,HAND WARMER,2,yesterday,1.85,17850.0,UK\n"  # 4: bad date
        "536368,22633,HAND WARMER,2,2010-12-01 08:28:00,1.85,17850.0\n"  # 5: seven fields
        "536369,22633,HAND WARMER,1.5,2010-12-01 08:28:00,1.85,17850.0,UK\n"  # 6: not whole
        "C536370,22633,HAND WARMER,-2,2010-12-02 09:00:00,1.85,17850.0,UK\n",
        {3: "Quantity", 4: "InvoiceDate", 5: "7 fields", 6: "whole number"},
    ),
}


@pytest.mark.parametrize("fmt", sorted(BROKEN))
def test_broken_lines_are_reported_by_line_and_the_rest_imported(tmp_path: Path, fmt: str) -> None:
    text, expected = BROKEN[fmt]
    path = tmp_path / f"broken-{fmt}.txt"
    path.write_text(text, encoding="utf-8")
    data_dir = tmp_path / "var"

    code, report = run_import(fmt, path, data_dir)

    assert code == 0, report
    assert [bad["line"] for bad in report["bad"]] == sorted(expected)
    for bad in report["bad"]:
        assert expected[bad["line"]] in bad["reason"], bad
    assert report["imported"] == report["lines"] - len(expected) == 2
    assert query(data_dir, "SELECT count(*) FROM events") == [(2,)]

    human = runner.invoke(app, ["import", fmt, str(path), "--data-dir", str(tmp_path / "other")])
    assert human.exit_code == 0, human.output
    assert f"{len(expected)} bad line(s)" in human.stdout
    for line in expected:
        assert f"line {line}: " in human.stdout


def test_strict_refuses_a_file_with_bad_lines_and_writes_nothing(tmp_path: Path) -> None:
    text, expected = BROKEN["cdnow"]
    path = tmp_path / "broken.txt"
    path.write_text(text)
    data_dir = tmp_path / "var"

    code, error = run_import("cdnow", path, data_dir, "--strict")

    assert code == 2
    assert error["error"]["code"] == "invalid_input_file"
    assert [bad["line"] for bad in error["error"]["details"]["lines"]] == sorted(expected)
    events = data_dir / "events"
    assert log_files(events) == []
    assert not list(events.rglob("*.tmp")) and not (events / "_imports.json").exists()
    # Refused, not recorded: the same file still imports without --strict.
    assert run_import("cdnow", path, data_dir)[0] == 0


def test_more_than_twenty_bad_lines_show_twenty_and_list_all_in_json(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text("1,100,10,pv,1511544070\n" + "x\n" * 25)
    code, report = run_import("taobao", path, tmp_path / "var")
    assert code == 0
    assert [bad["line"] for bad in report["bad"]] == list(range(2, 27))
    human = runner.invoke(app, ["import", "taobao", str(path), "--data-dir", str(tmp_path / "b")])
    assert "line 21:" in human.stdout and "line 22:" not in human.stdout
    assert "5 more" in human.stdout


def test_a_failed_write_leaves_nothing_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sink imports pyarrow.parquet when it writes: patch the module it will find.
    import pyarrow.parquet as pq

    text, _ = BROKEN["cdnow"]  # good lines on two days: two files
    path = tmp_path / "two-days.txt"
    path.write_text(text)
    real = pq.write_table
    calls: list[int] = []

    def second_write_fails(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(*args, **kwargs)

    monkeypatch.setattr(pq, "write_table", second_write_fails)
    code, error = run_import("cdnow", path, tmp_path / "var")

    assert code != 0 and len(calls) == 2
    assert error["error"]["code"] == "import_write_failed"
    events = tmp_path / "var" / "events"
    assert log_files(events) == [] and not list(events.rglob("*.tmp"))
    assert not (events / "_imports.json").exists()
    monkeypatch.setattr(pq, "write_table", real)
    assert run_import("cdnow", path, tmp_path / "var")[0] == 0


def test_events_count_reads_imported_history(tmp_path: Path) -> None:
    text, _ = BROKEN["online-retail"]
    path = tmp_path / "retail.csv"
    path.write_text(text)
    assert run_import("online-retail", path, tmp_path)[0] == 0
    result = runner.invoke(app, ["events", "count", "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"day": "2010-12-01", "event_type": "order", "events": 1},
        {"day": "2010-12-02", "event_type": "return", "events": 1},
    ]
