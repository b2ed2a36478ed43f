"""Question topics: read consumer questions, cluster them with TF-IDF + NMF, label each topic.

English text is split into words (scikit-learn's English stop words removed); Chinese (CJK)
text, which has no spaces, is split into overlapping character bigrams, so the same command
works on Chinese chat. A question mixing both gets both kinds of token.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from livecart.core.errors import InvalidInput, NotFound

# Called with the number of bytes read since the last call.
Progress = Callable[[int], None]

UNCLASSIFIED = "(no content words)"
_WORD = re.compile(r"[a-z][a-z']*[a-z]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Words every question uses ("does it ...", "I need ..."): they say nothing about the topic.
_QUESTION_WORDS = frozenset(
    "does did need use used just thanks thank know anyone like want hi hello really ok".split()
)
_KEYWORDS = 8
_EXAMPLES = 3
_PRODUCTS = 3


class QuestionFileMissing(NotFound):
    code = "input_file_missing"


class NoQuestions(InvalidInput):
    code = "no_questions"


@dataclass(frozen=True)
class Question:
    line: int
    text: str
    asin: str | None
    year: int | None


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str


@dataclass
class QuestionFile:
    path: Path
    lines: int = 0
    questions: list[Question] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)


@dataclass(frozen=True)
class Topic:
    label: str
    keywords: list[str]
    size: int
    share: float
    examples: list[str]
    top_products: list[dict[str, Any]]
    per_year: dict[str, int]
    members: list[int]

    def to_dict(self) -> dict[str, Any]:
        """The topic as reported by `--json` (members left out)."""
        return {
            "label": self.label,
            "keywords": self.keywords,
            "size": self.size,
            "share": round(self.share, 4),
            "examples": self.examples,
            "top_products": self.top_products,
            "per_year": self.per_year,
        }


def _repair_backslashes(line: str) -> str:
    # Python-literal dumps escape single quotes (\') inside double-quoted strings, which JSON
    # does not allow; other lone backslashes are doubled.
    text = line.replace("\\'", "'")
    return re.sub(r'\\(?!["\\/bfnrtu])', r"\\\\", text)


def parse_qa_line(line: str) -> dict[str, Any]:
    """One Amazon Q&A line as a dict: JSON, else a Python literal, else JSON after repair."""
    attempts: list[Callable[[str], Any]] = [
        json.loads,
        ast.literal_eval,
        lambda text: json.loads(_repair_backslashes(text)),
    ]
    failure = "not an object"
    for parse in attempts:
        try:
            value = parse(line)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            failure = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            continue
        if isinstance(value, dict):
            return value
        failure = "not an object"
    raise ValueError(failure)


def _year(record: dict[str, Any]) -> int | None:
    stamp = record.get("unixTime")
    if isinstance(stamp, int | float) and stamp > 0:
        return datetime.fromtimestamp(stamp, tz=UTC).year
    answered = record.get("answerTime")
    if isinstance(answered, str):
        try:
            return datetime.strptime(answered.strip(), "%b %d, %Y").year
        except ValueError:
            return None
    return None


def read_amazon_qa(path: Path, *, progress: Progress | None = None) -> QuestionFile:
    """Read the questions of an Amazon Q&A file; unreadable lines are listed, never dropped."""
    if not path.is_file():
        raise QuestionFileMissing(f"{path} does not exist or is not a file")
    result = QuestionFile(path=path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            result.lines = number
            if progress is not None:
                progress(len(raw))
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            try:
                record = parse_qa_line(line)
            except ValueError as exc:
                result.bad_lines.append(BadLine(number, f"does not parse: {exc}"))
                continue
            text = record.get("question")
            if not isinstance(text, str) or not text.strip():
                result.bad_lines.append(BadLine(number, "no question text"))
                continue
            asin = record.get("asin")
            result.questions.append(
                Question(
                    line=number,
                    text=" ".join(text.split()),
                    asin=asin if isinstance(asin, str) else None,
                    year=_year(record),
                )
            )
    return result


def tokens(text: str) -> list[str]:
    """Words of Latin-script text (no stop words) and character bigrams of CJK runs."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    lowered = text.lower()
    found = [
        w
        for w in _WORD.findall(lowered)
        if w not in ENGLISH_STOP_WORDS and w not in _QUESTION_WORDS
    ]
    for run in _CJK_RUN.findall(lowered):
        found.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return found


def _top_products(questions: Iterable[Question]) -> list[dict[str, Any]]:
    counts = Counter(q.asin for q in questions if q.asin)
    return [{"asin": a, "questions": n} for a, n in counts.most_common(_PRODUCTS)]


def _per_year(questions: Iterable[Question]) -> dict[str, int]:
    counts = Counter(q.year for q in questions if q.year is not None)
    return {str(year): counts[year] for year in sorted(counts)}


def find_topics(questions: list[Question], *, topics: int, random_state: int = 0) -> list[Topic]:
    """Cluster questions into at most `topics` topics; each question lands in exactly one.

    Questions without any content word (all stop words, or too rare to count) form one more
    group labelled UNCLASSIFIED, so nothing disappears.
    """
    import numpy as np
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not questions:
        raise NoQuestions("the input holds no questions")
    texts = [q.text for q in questions]
    # Terms in one question only tell nothing about a topic; on a handful of questions keep all.
    min_df = 2 if len(texts) >= 20 else 1
    vectorizer = TfidfVectorizer(
        analyzer=tokens, min_df=min_df, max_df=0.5, sublinear_tf=True, dtype=np.float64
    )
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # an empty vocabulary: nothing to cluster on
        return _assemble(questions, [], np.full(len(texts), -1), np.zeros(len(texts)))
    terms = vectorizer.get_feature_names_out()
    k = max(1, min(topics, matrix.shape[0], matrix.shape[1]))
    model = NMF(n_components=k, init="nndsvda", random_state=random_state, max_iter=1000)
    weights = model.fit_transform(matrix)
    components = model.components_
    assigned = np.where(weights.max(axis=1) > 0, weights.argmax(axis=1), -1)
    strength = weights[np.arange(len(texts)), np.maximum(assigned, 0)]
    keywords = [
        [str(terms[j]) for j in np.argsort(-row)[:_KEYWORDS] if row[j] > 0] for row in components
    ]
    return _assemble(questions, keywords, assigned, strength)


def _assemble(
    questions: list[Question],
    keywords: list[list[str]],
    assigned: Any,
    strength: Any,
) -> list[Topic]:
    total = len(questions)
    groups: list[tuple[list[str], list[int]]] = [
        (words, [i for i in range(total) if assigned[i] == k]) for k, words in enumerate(keywords)
    ]
    groups.append(([], [i for i in range(total) if assigned[i] < 0]))
    found: list[Topic] = []
    for words, members in groups:
        if not members:
            continue
        central = sorted(members, key=lambda i: (-float(strength[i]), i))
        examples: list[str] = []
        seen: set[str] = set()
        for i in central:
            # "dimensions?" and "What are the dimensions." show the same thing.
            key = " ".join(tokens(questions[i].text)) or questions[i].text.lower()
            if key not in seen:
                seen.add(key)
                examples.append(questions[i].text)
            if len(examples) == _EXAMPLES:
                break
        chosen = [questions[i] for i in members]
        found.append(
            Topic(
                label=", ".join(words[:4]) if words else UNCLASSIFIED,
                keywords=words,
                size=len(members),
                share=len(members) / total,
                examples=examples,
                top_products=_top_products(chosen),
                per_year=_per_year(chosen),
                members=[questions[i].line for i in members],
            )
        )
    found.sort(key=lambda t: (t.label == UNCLASSIFIED, -t.size, t.label))
    return found
