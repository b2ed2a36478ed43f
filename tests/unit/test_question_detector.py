"""The chat question detector on English and Chinese messages, questions and not."""

from __future__ import annotations

import pytest

from livecart.service.detector import detect, is_question, language_of

QUESTIONS_EN = [
    "How long does the battery last?",
    "what size should I get for 170cm",
    "Which colour is this one",
    "Does it come with a charger",
    "do you ship to Canada",
    "Can I machine wash it",
    "is it waterproof",
    "Will it fit a queen bed",
    "When does the flash sale start",
    "where is it made",
    "Is there a size L",
    "anyone know if it shrinks",
    "Great scarf. what is it made of",
    "please tell me the price",
    "price??",
    "How much is the red one",
    "Are these real leather",
]
QUESTIONS_ZH = [
    "这个能机洗吗",
    "有没有黑色的？",
    "多少钱",
    "是不是纯棉的",
    "怎么洗",
    "能不能便宜点",
    "一共几个颜色",
    "这是什么材质",
    "红色的呢",
    "哪里发货",
    "主播，这个有货吗？",
    "请问保修多久",
    "好看！适合送人吗",
]
NOT_QUESTIONS_EN = [
    "Love this scarf!",
    "what a deal!",
    "How nice is that colour",
    "I just bought two",
    "hello everyone",
    "This is my third live with you",
    "do it now",
    "Can't wait for the sale",
    "is awesome",
    "",
    "   ",
]
NOT_QUESTIONS_ZH = [
    "太好看了",
    "已经下单了",
    "主播好漂亮",
    "几乎每天都来看",
    "哪怕贵一点也买",
    "我买了两条",
    "支持主播！",
    "这个颜色我喜欢",
]


@pytest.mark.parametrize("text", QUESTIONS_EN + QUESTIONS_ZH)
def test_questions_are_found(text: str) -> None:
    assert is_question(text), text


@pytest.mark.parametrize("text", NOT_QUESTIONS_EN + NOT_QUESTIONS_ZH)
def test_other_messages_are_not_questions(text: str) -> None:
    assert detect(text) is None, (text, detect(text))


def test_enough_sentences_of_each_kind() -> None:
    assert len(QUESTIONS_EN + QUESTIONS_ZH + NOT_QUESTIONS_EN + NOT_QUESTIONS_ZH) >= 30
    assert min(map(len, (QUESTIONS_EN, QUESTIONS_ZH, NOT_QUESTIONS_EN, NOT_QUESTIONS_ZH))) >= 8


def test_language_and_reason() -> None:
    chinese = detect("这个能机洗吗")
    assert chinese is not None
    assert (chinese.language, chinese.reason) == ("zh", "ends with '吗'")
    english = detect("Does it come with a charger")
    assert english is not None
    assert (english.language, english.reason) == ("en", "opens with 'does it'")
    full_width = detect("真的假的？")
    assert full_width is not None
    assert full_width.reason == "question mark"
    assert language_of("Is it 100% 纯棉") == "zh"
    assert language_of("Is it cotton") == "en"
