"""`livecart service topics` on the real Amazon questions and on small hand-made files."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from livecart.cli import app
from livecart.service.topics import UNCLASSIFIED, tokens
from tests.support import shared_file

runner = CliRunner()


@pytest.fixture(scope="module")
def amazon_file() -> Path:
    return shared_file("amazon_qa_Appliances.jsonl")


def run_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["service", "topics", *args, "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def amazon_report(amazon_file: Path) -> dict[str, Any]:
    return run_json("--input", str(amazon_file), "--format", "amazon-qa")


def independent_parse(path: Path) -> tuple[list[str], list[int]]:
    """Questions and unreadable line numbers, read without the project's parser."""
    questions: list[str] = []
    bad: list[int] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            try:
                record = ast.literal_eval(line)
            except (ValueError, SyntaxError):
                bad.append(number)
                continue
        if isinstance(record.get("question"), str) and record["question"].strip():
            questions.append(" ".join(record["question"].split()))
        else:
            bad.append(number)
    return questions, bad


def test_every_question_lands_in_exactly_one_topic(
    amazon_file: Path, amazon_report: dict[str, Any]
) -> None:
    questions, _ = independent_parse(amazon_file)
    assert amazon_report["questions"] == len(questions)
    assert sum(t["size"] for t in amazon_report["topics"]) == len(questions)
    assert sum(t["share"] for t in amazon_report["topics"]) == pytest.approx(1, abs=1e-3)
    labelled = [t for t in amazon_report["topics"] if t["label"] != UNCLASSIFIED]
    assert len(labelled) == 12
    assert amazon_report["seconds"] < 60


def test_bad_lines_are_the_ones_an_independent_parse_finds(
    amazon_file: Path, amazon_report: dict[str, Any]
) -> None:
    _, bad = independent_parse(amazon_file)
    assert [b["line"] for b in amazon_report["bad_lines"]] == bad
    assert all(b["reason"] for b in amazon_report["bad_lines"])
    assert amazon_report["lines"] == len(amazon_file.read_text(encoding="utf-8").splitlines())


def test_examples_belong_to_their_topic_and_show_its_keywords(
    amazon_file: Path, amazon_report: dict[str, Any]
) -> None:
    questions, _ = independent_parse(amazon_file)
    known = set(questions)
    for topic in amazon_report["topics"]:
        assert 1 <= len(topic["examples"]) <= 3
        assert set(topic["examples"]) <= known
        if topic["label"] == UNCLASSIFIED:
            assert all(not tokens(e) or topic["keywords"] == [] for e in topic["examples"])
            continue
        assert topic["label"].split(", ") == topic["keywords"][: len(topic["label"].split(", "))]
        for example in topic["examples"]:
            words = set(tokens(example))
            assert words & set(topic["keywords"]), (topic["label"], example)
        assert topic["top_products"]
        assert all(re.fullmatch(r"[A-Z0-9]{10}", p["asin"]) for p in topic["top_products"])
        assert sum(topic["per_year"].values()) <= topic["size"]


def test_examples_are_members_of_their_topic(tmp_path: Path, amazon_file: Path) -> None:
    from livecart.service.topics import find_topics, read_amazon_qa

    source = read_amazon_qa(amazon_file)
    found = find_topics(source.questions, topics=12)
    by_line = {q.line: q.text for q in source.questions}
    seen: set[int] = set()
    for topic in found:
        members = set(topic.members)
        assert not members & seen
        seen |= members
        assert set(topic.examples) <= {by_line[line] for line in members}
    assert seen == set(by_line)


def write_lines(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_two_obvious_themes_split_into_two_topics(tmp_path: Path) -> None:
    leaks = [
        "ice maker leaking water on the floor",
        "my ice maker is leaking water",
        "why is the ice maker leaking water",
        "ice maker leaking water under the fridge",
        "water leaking from ice maker again",
    ]
    filters = [
        "filter replacement part number please",
        "what is the part number of the replacement filter",
        "replacement filter part number for this model",
        "where to buy filter replacement part number",
        "filter part number replacement",
    ]
    records = [
        {"asin": "B00LEAK000" if text in leaks else "B00FILTER0", "question": text}
        for text in leaks + filters
    ]
    report = run_json("--input", str(write_lines(tmp_path / "two.jsonl", records)), "--topics", "2")
    assert len(report["topics"]) == 2
    sizes = sorted(t["size"] for t in report["topics"])
    assert sizes == [5, 5]
    for topic in report["topics"]:
        theme = leaks if set(topic["examples"]) <= set(leaks) else filters
        assert set(topic["examples"]) <= set(theme)
        expected = (
            {"leaking", "ice", "maker", "water"}
            if theme is leaks
            else {
                "filter",
                "replacement",
                "number",
                "part",
            }
        )
        label = topic["label"].split(", ")
        assert set(label[:2]) <= expected, label
        assert len(set(label) & expected) >= 3, label
        assert topic["top_products"][0]["questions"] == 5


def test_broken_lines_are_reported_by_number(tmp_path: Path) -> None:
    good = {"asin": "B000000001", "question": "does it come with a hose?", "unixTime": 1403852400}
    path = tmp_path / "broken.jsonl"
    path.write_text(
        json.dumps(good)
        + "\n"
        + '{"asin": "B000000002", "question": "it\\\'s fine?"}\n'  # needs the backslash repair
        + '{"asin": "B000000003", "question": "unclosed\n'
        + "\n"
        + '{"asin": "B000000004", "answer": "no question here"}\n'
        + json.dumps(good)
        + "\n",
        encoding="utf-8",
    )
    report = run_json("--input", str(path), "--topics", "2")
    assert [b["line"] for b in report["bad_lines"]] == [3, 5]
    assert report["questions"] == 3
    assert sum(t["size"] for t in report["topics"]) == 3
    assert all(t["per_year"].get("2014", 0) <= t["size"] for t in report["topics"])


def test_chinese_questions_are_split_into_character_bigrams(tmp_path: Path) -> None:
    assert tokens("这个冰箱漏水吗") == ["这个", "个冰", "冰箱", "箱漏", "漏水", "水吗"]
    assert tokens("Does the 冰箱 leak?") == ["leak", "冰箱"]
    leaks = ["冰箱漏水怎么办", "冰箱一直漏水", "为什么冰箱漏水", "冰箱漏水了"]
    sizes = ["尺寸是多少", "这个尺寸多大", "尺寸多少厘米", "请问尺寸"]
    records = [{"asin": "B0000CN001", "question": q} for q in leaks + sizes]
    report = run_json("--input", str(write_lines(tmp_path / "zh.jsonl", records)), "--topics", "2")
    themes = [set(t["examples"]) for t in report["topics"]]
    assert all(group <= set(leaks) or group <= set(sizes) for group in themes)
    assert sorted(t["size"] for t in report["topics"]) == [4, 4]


def test_markdown_report_and_table(tmp_path: Path, amazon_file: Path) -> None:
    out = tmp_path / "report.md"
    result = runner.invoke(
        app, ["service", "topics", "--input", str(amazon_file), "--topics", "4", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# What consumers ask")
    assert text.count("\n## ") >= 4
    _, bad = independent_parse(amazon_file)
    assert all(f"- line {number}:" in text for number in bad)
    assert "questions in amazon_qa_Appliances.jsonl" in result.stdout


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["service", "topics", "--input", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "input_file_missing" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
