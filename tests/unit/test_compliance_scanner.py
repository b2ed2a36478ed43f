"""The compliance scanner on real-looking English and Chinese sentences, lexicon files and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest
from typer.testing import CliRunner

from livecart.cli import app as cli_app
from livecart.supervision import compliance
from livecart.supervision.cli_commands import Kind
from livecart.supervision.compliance import load_lexicon, normalise, raise_if_blocked, scan
from livecart.supervision.errors import ComplianceBlocked, LexiconInvalid
from livecart.supervision.schemas import SCAN_KINDS, ScanKind

LEXICON = load_lexicon()
runner = CliRunner()

# (sentence, kind, the rule that must hit, the matched text)
MUST_HIT = [
    (
        "This is the best moisturiser you can buy.",
        "product_description",
        "absolute_terms",
        "the best",
    ),
    (
        "World's best espresso machine, now in stock",
        "product_title",
        "absolute_terms",
        "World's best",
    ),
    ("Our serum is the No.1 choice of dermatologists.", "anchor_script", "absolute_terms", "No.1"),
    ("Voted number one by our fans three years running!", "chat", "absolute_terms", "number one"),
    (
        "A national-level craft, made by hand in Jingdezhen.",
        "product_description",
        "absolute_terms",
        "national-level",
    ),
    (
        "Results are 100% guaranteed or your money back.",
        "anchor_script",
        "absolute_terms",
        "100% guaranteed",
    ),
    (
        "It is the only cream on the market that works overnight.",
        "anchor_script",
        "absolute_terms",
        "the only cream on the market",
    ),
    (
        "Top-rated in the world for battery life.",
        "product_title",
        "absolute_terms",
        "Top-rated in the world",
    ),
    (
        "Last chance to get the gift box with your order!",
        "flash_sale_banner",
        "false_urgency",
        "Last chance",
    ),
    ("Only today: free shipping on every blender.", "chat", "false_urgency", "Only today"),
    (
        "The deal ends in 5 minutes, add it to your cart now.",
        "anchor_script",
        "false_urgency",
        "ends in 5 minutes",
    ),
    ("These headphones are selling out fast.", "chat", "false_urgency", "selling out fast"),
    ("Hurry! The gift sets will not be restocked.", "chat", "false_urgency", "Hurry!"),
    (
        "You will never again at this price see a down jacket like this.",
        "anchor_script",
        "false_urgency",
        "never again at this price",
    ),
    (
        "This tea cures insomnia in a week.",
        "product_description",
        "medical_claims",
        "cures insomnia",
    ),
    (
        "A herbal balm that treats eczema naturally.",
        "product_title",
        "medical_claims",
        "treats eczema",
    ),
    ("Anti-cancer superfood powder", "product_title", "medical_claims", "Anti-cancer"),
    ("这是全网最低价，大家放心买！", "anchor_script", "absolute_terms", "全网最低价"),
    ("我们家的面霜是最好的，没有之一。", "chat", "absolute_terms", "最好"),
    ("这款吹风机销量第一，闭眼入。", "anchor_script", "absolute_terms", "销量第一"),
    ("国家级非遗手艺，纯手工打造。", "product_description", "absolute_terms", "国家级"),
    ("顶级面料，穿上就不想脱。", "product_title", "absolute_terms", "顶级"),
    ("史上最划算的一次直播！", "chat", "absolute_terms", "史上最"),
    ("这是市面上唯一一款不含酒精的爽肤水。", "product_description", "absolute_terms", "唯一"),
    ("100%有效，无效退款！", "anchor_script", "absolute_terms", "100%有效"),
    ("今天是最后一天，明天恢复原价！", "anchor_script", "false_urgency", "最后一天"),
    ("仅限今天，下单立减五十！", "flash_sale_banner", "false_urgency", "仅限今天"),
    ("库存不多，马上抢光，手慢无！", "chat", "false_urgency", "马上抢光"),
    ("错过再等一年，家人们冲！", "anchor_script", "false_urgency", "错过再等一年"),
    ("这个价格仅此一次，家人们抓紧。", "anchor_script", "false_urgency", "仅此一次"),
    ("这款茶能治疗失眠。", "product_description", "medical_claims", "治疗"),
    ("每天喝一杯，药到病除。", "anchor_script", "medical_claims", "药到病除"),
    ("天然抗癌食品，老人孩子都能吃。", "product_title", "medical_claims", "抗癌"),
]

# Ordinary text, including the words the allow-lists exist for: nothing may hit.
MUST_PASS = [
    ("Check the best-before date on the lid before you open it.", "product_description"),
    ("Keep a first aid kit in the car for long trips.", "product_description"),
    ("Take the number one bus from the station to our store.", "chat"),
    ("Our studio is at Gate No. 1 of the creative park.", "chat"),
    ("She bestowed the prize on the youngest baker.", "chat"),
    ("For best results, apply to damp hair and leave for two minutes.", "product_description"),
    ("It's best to wash the jacket by hand in cold water.", "anchor_script"),
    ("We always try our best to ship within 24 hours.", "chat"),
    ("Best regards from the whole team, see you on Friday.", "chat"),
    ("The battery lasts two days at best if you stream video.", "chat"),
    ("The jacket is 100% cotton and machine washable.", "product_description"),
    ("Treat yourself to a cup of hot chocolate after skiing.", "anchor_script"),
    ("Do not hurry, the sale runs until Sunday and there is plenty of stock.", "chat"),
    ("The only question I have is about the delivery time.", "chat"),
    ("Old filters still work, but hope for the best if you skip the change.", "chat"),
    ("Press the button to show channel #1, the outdoor sensor.", "product_description"),
    ("I'm at a loss as to which hose fits the older model.", "chat"),
    ("The heat shuts off during the last 15 minutes of the cycle.", "product_description"),
    ("A cheap gasket won't last a year in a busy kitchen.", "chat"),
    ("The filter is not 100% effective, so clean the tray weekly.", "product_description"),
    ("我最近在用这款洗面奶，感觉还不错。", "chat"),
    ("这件羊毛衫最好用冷水手洗，不要暴晒。", "product_description"),
    ("最后一个问题：这件外套能机洗吗？", "chat"),
    ("这是我第一次在直播间买衣服。", "chat"),
    ("你最好先量一下腰围再选尺码。", "anchor_script"),
    ("最多每人限购两件，请大家理解。", "anchor_script"),
    ("第一步先清洁，第二步再涂精华。", "product_description"),
    ("这件是100%纯棉的，贴身穿很舒服。", "product_description"),
    ("快递最晚明天下午发出。", "chat"),
    ("最新款有三个颜色可以选。", "product_title"),
    ("这款万能胶粘陶瓷和木头都可以。", "product_description"),
    ("我唯一的问题是尺码偏小。", "chat"),
]


@pytest.mark.parametrize(("text", "kind", "rule_id", "matched"), MUST_HIT)
def test_sentence_hits_the_rule(text: str, kind: str, rule_id: str, matched: str) -> None:
    result = scan(text, kind=kind, lexicon=LEXICON)  # type: ignore[arg-type]
    hits = [hit for hit in result.hits if hit.rule_id == rule_id]
    assert hits, f"{rule_id} did not hit {text!r}: {result.hits}"
    assert matched in [hit.text for hit in hits]
    for hit in result.hits:
        assert text[hit.start : hit.end] == hit.text
        assert hit.reason.startswith(("Advertising Law", "Measures", "Provisions", "A time"))
    assert result.blocked  # every rule above blocks


@pytest.mark.parametrize(("text", "kind"), MUST_PASS)
def test_ordinary_sentence_passes(text: str, kind: str) -> None:
    result = scan(text, kind=kind, lexicon=LEXICON)  # type: ignore[arg-type]
    assert result.hits == [], [(hit.rule_id, hit.text) for hit in result.hits]
    assert not result.blocked and result.warnings == []


def test_at_least_forty_sentences_in_both_languages() -> None:
    sentences = [row[0] for row in MUST_HIT] + [row[0] for row in MUST_PASS]
    chinese = [s for s in sentences if any("\u4e00" <= c <= "\u9fff" for c in s)]
    assert len(MUST_HIT) >= 20 and len(MUST_PASS) >= 20 and len(sentences) >= 40
    assert 15 <= len(chinese) <= len(sentences) - 15


def test_cited_rules_name_the_law() -> None:
    reasons = {rule.id: rule.reason for rule in LEXICON.rules}
    assert "art. 9(3)" in reasons["absolute_terms"]
    assert "art. 17" in reasons["medical_claims"]
    assert "Live-Streaming Marketing" in reasons["false_urgency"]


def test_full_width_text_is_normalised_and_offsets_point_into_the_original() -> None:
    text = "今天的爆款，ＮＯ．１的品质，ＢＥＳＴ价格"
    result = scan(text, kind="chat", lexicon=LEXICON)
    assert [(hit.rule_id, hit.text) for hit in result.hits] == [
        ("absolute_terms", "ＮＯ．１"),
        ("absolute_terms", "ＢＥＳＴ"),
    ]
    for hit in result.hits:
        assert text[hit.start : hit.end] == hit.text


def test_normalisation_keeps_a_map_back_to_the_original() -> None:
    text = "Ｗｏｒｌｄ’s ｂｅｓｔ cafe\u0301 最\u200b好"
    normalised = normalise(text)
    assert normalised.text == "world's best café 最好"
    hits = scan(text, kind="chat", lexicon=LEXICON).hits
    assert [hit.text for hit in hits] == ["Ｗｏｒｌｄ’s ｂｅｓｔ", "最\u200b好"]


def test_spaced_out_chinese_and_mixed_case_english_still_hit() -> None:
    result = scan("国 家 级 工艺，BeSt quality", kind="chat", lexicon=LEXICON)
    assert [hit.text for hit in result.hits] == ["国 家 级", "BeSt"]


def test_warn_rules_do_not_block() -> None:
    result = scan("A flawless finish, limited time only.", kind="anchor_script", lexicon=LEXICON)
    assert not result.blocked
    assert [(hit.rule_id, hit.action) for hit in result.warnings] == [
        ("superlative_claims", "warn"),
        ("limited_time_promotion", "warn"),
    ]
    raise_if_blocked(result)  # warnings alone do not raise


def test_rules_apply_to_their_kinds_only() -> None:
    script = scan("限时秒杀，五点开抢", kind="anchor_script", lexicon=LEXICON)
    banner = scan("限时秒杀，五点开抢", kind="flash_sale_banner", lexicon=LEXICON)
    assert [hit.rule_id for hit in script.hits] == ["limited_time_promotion"]
    assert banner.hits == []


def test_blocked_text_raises_with_a_stable_code_and_the_hits() -> None:
    result = scan("全网第一，最后一天", kind="chat", lexicon=LEXICON)
    with pytest.raises(ComplianceBlocked) as caught:
        raise_if_blocked(result)
    body = caught.value.to_dict()["error"]
    assert body["code"] == "compliance_blocked" and caught.value.status == 422
    assert [hit["rule_id"] for hit in body["details"]["hits"]] == [
        "absolute_terms",
        "false_urgency",
    ]


def test_a_custom_lexicon_file_replaces_the_default(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.json"
    rule = {
        "id": "house_words",
        "category": "brand_rules",
        "action": "block",
        "reason": "House rule 3: no competitor names.",
        "patterns": {
            "en": {"terms": ["acme"], "allow": ["acme street"]},
            "zh": {"terms": ["某品牌"]},
        },
    }
    path.write_text(json.dumps({"version": 1, "rules": [rule]}), encoding="utf-8")
    custom = load_lexicon(path)
    assert [r.id for r in custom.rules] == ["house_words"] and custom.source == str(path)
    result = scan("Better than ACME, and the best price", kind="chat", lexicon=custom)
    assert [(hit.rule_id, hit.text) for hit in result.hits] == [("house_words", "ACME")]
    assert scan("We ship from Acme Street.", kind="chat", lexicon=custom).hits == []


def test_a_lexicon_file_can_extend_the_default(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.json"
    softer = {
        "id": "superlative_claims",
        "category": "absolute_terms",
        "action": "block",
        "reason": "House rule: superlatives block too.",
        "patterns": {"en": {"terms": ["perfect"]}},
    }
    path.write_text(json.dumps({"extends": "default", "rules": [softer]}), encoding="utf-8")
    extended = load_lexicon(path)
    assert [r.id for r in extended.rules] == [r.id for r in LEXICON.rules]
    result = scan("A perfect fit and the best price", kind="chat", lexicon=extended)
    assert [(hit.rule_id, hit.action) for hit in result.hits] == [
        ("superlative_claims", "block"),
        ("absolute_terms", "block"),
    ]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "not valid JSON"),
        (
            '{"rules": [{"id": "x", "category": "c", "action": "warn", "reason": "r",'
            ' "patterns": {"en": {"regexes": ["Best\\\\s+ever"]}}}]}',
            "lower case",
        ),
        ('{"rules": [{"id": "x", "action": "shout"}]}', "lexicon shape"),
        (
            '{"rules": [{"id": "x", "category": "c", "action": "warn", "reason": "r",'
            ' "patterns": {"en": {"regexes": ["(unclosed"]}}}]}',
            "does not compile",
        ),
    ],
)
def test_a_broken_lexicon_is_refused(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LexiconInvalid) as caught:
        load_lexicon(path)
    assert words in caught.value.message and caught.value.code == "compliance_lexicon_invalid"


def test_lexicon_loads_from_the_package_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = compliance._default_file
    monkeypatch.setattr(compliance, "_default_file", lambda: calls.append("x") or real())
    load_lexicon()
    assert calls == ["x"]
    assert [kind.value for kind in Kind] == list(SCAN_KINDS) == list(get_args(ScanKind))


def test_cli_scan_json_and_exit_codes() -> None:
    blocked = runner.invoke(
        cli_app,
        ["supervision", "scan", "全网最低价，仅限今天", "--kind", "anchor_script", "--json"],
    )
    assert blocked.exit_code == 1, blocked.output
    body = json.loads(blocked.stdout)
    assert body["blocked"] is True and body["kind"] == "anchor_script"
    assert {hit["rule_id"] for hit in body["hits"]} == {
        "absolute_terms",
        "fake_discount",
        "false_urgency",
    }
    clean = runner.invoke(cli_app, ["supervision", "scan", "最近很多人问尺码", "--json"])
    assert clean.exit_code == 0 and json.loads(clean.stdout)["hits"] == []
    warned = runner.invoke(cli_app, ["supervision", "scan", "A flawless finish"])
    assert warned.exit_code == 0 and "superlative_claims" in warned.stdout


def test_cli_reads_a_file_and_takes_a_lexicon(tmp_path: Path) -> None:
    text = tmp_path / "script.txt"
    text.write_text("Number one in the world! Only today!", encoding="utf-8")
    result = runner.invoke(cli_app, ["supervision", "scan", "--file", str(text), "--json"])
    assert result.exit_code == 1
    assert [hit["text"] for hit in json.loads(result.stdout)["hits"]] == [
        "Number one",
        "Only today",
    ]
    empty = tmp_path / "empty.json"
    empty.write_text('{"rules": []}', encoding="utf-8")
    result = runner.invoke(
        cli_app, ["supervision", "scan", "--file", str(text), "--lexicon", str(empty)]
    )
    assert result.exit_code == 0 and "clean" in result.stdout
    missing = runner.invoke(
        cli_app, ["supervision", "scan", "x", "--lexicon", str(tmp_path / "no")]
    )
    assert missing.exit_code == 2
    both = runner.invoke(cli_app, ["supervision", "scan", "x", "--file", str(text)])
    assert both.exit_code == 2


def test_cli_lexicon_from_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "lexicon.json"
    rule = {
        "id": "house_words",
        "category": "brand_rules",
        "action": "warn",
        "reason": "House rule.",
        "patterns": {"en": {"terms": ["acme"]}},
    }
    path.write_text(json.dumps({"rules": [rule]}), encoding="utf-8")
    monkeypatch.setenv("LIVECART_COMPLIANCE_LEXICON", str(path))
    result = runner.invoke(cli_app, ["supervision", "rules", "--json"])
    assert result.exit_code == 0
    assert [r["id"] for r in json.loads(result.stdout)["rules"]] == ["house_words"]
