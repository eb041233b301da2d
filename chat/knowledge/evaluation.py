"""Measuring search quality on labelled queries: top-1, top-3, MRR, and the answer threshold.

A case is (query, expected title). An empty expected title marks a question the knowledge base
cannot answer: the right behaviour there is a confidence below the threshold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from chat.knowledge.selectors import kb_answer_threshold, kb_search


@dataclass(frozen=True)
class Miss:
    query: str
    expected: str
    rank: int | None
    found: list[str]


@dataclass
class EvaluationSummary:
    answerable: int = 0
    unanswerable: int = 0
    top1: float = 0.0
    top3: float = 0.0
    mrr: float = 0.0
    answer_rate: float = 0.0  # answerable queries whose best score clears the threshold
    abstain_rate: float = 0.0  # unanswerable queries whose best score stays below it
    misses: list[Miss] = field(default_factory=list)
    # (best score, top-1 correct) per answerable query and best score per unanswerable one.
    scored: list[tuple[float, bool]] = field(default_factory=list)
    unanswerable_scores: list[float] = field(default_factory=list)
    # (relevance, margin, top-1 correct) of every query's top result, for calibrating the confidence.
    features: list[tuple[float, float, bool]] = field(default_factory=list)
    # The same, split: answerable queries (relevance, margin, top-1 correct), unanswerable (relevance, margin).
    in_scope_features: list[tuple[float, float, bool]] = field(default_factory=list)
    out_of_scope_features: list[tuple[float, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        values = asdict(self)
        values.pop("scored")
        values.pop("unanswerable_scores")
        values.pop("features")
        values.pop("in_scope_features")
        values.pop("out_of_scope_features")
        return values


def _same(first: str, second: str) -> bool:
    return " ".join(first.lower().split()) == " ".join(second.lower().split())


def evaluate_queries(*, cases: Iterable[tuple[str, str]], k: int = 5, mode: str = "hybrid",
                     threshold: float | None = None) -> EvaluationSummary:
    limit = kb_answer_threshold() if threshold is None else threshold
    summary = EvaluationSummary()
    hits1 = hits3 = 0
    reciprocal = 0.0
    answered = abstained = 0
    for query, expected in cases:
        results = kb_search(query=query, k=max(k, 3), mode=mode)
        best = results[0].score if results else 0.0
        top = results[0] if results else None
        if not expected.strip():
            if top:
                summary.features.append((top.relevance, top.margin, False))
                summary.out_of_scope_features.append((top.relevance, top.margin))
            summary.unanswerable += 1
            summary.unanswerable_scores.append(best)
            abstained += best < limit
            continue
        summary.answerable += 1
        titles = [result.title for result in results]
        rank = next((position for position, title in enumerate(titles, start=1) if _same(title, expected)), None)
        hits1 += rank == 1
        hits3 += rank is not None and rank <= 3
        reciprocal += 1.0 / rank if rank else 0.0
        answered += best >= limit
        summary.scored.append((best, rank == 1))
        if top:
            summary.features.append((top.relevance, top.margin, rank == 1))
            summary.in_scope_features.append((top.relevance, top.margin, rank == 1))
        if rank != 1:
            summary.misses.append(Miss(query=query, expected=expected, rank=rank, found=titles[:3]))
    if summary.answerable:
        summary.top1 = hits1 / summary.answerable
        summary.top3 = hits3 / summary.answerable
        summary.mrr = reciprocal / summary.answerable
        summary.answer_rate = answered / summary.answerable
    if summary.unanswerable:
        summary.abstain_rate = abstained / summary.unanswerable
    return summary
