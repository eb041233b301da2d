"""Knowledge-base search quality on the labelled set in bench/data, every ranking side by side.

    python bench/knowledge_quality.py [--sweep] [--calibrate]

Each business in bench/data (knowledge_faq_<name>.csv + knowledge_queries_<name>.csv) gets a fresh
tenant; its FAQ is imported with the local model, then every query is searched with vector-only,
full-text-only, reciprocal rank fusion and the hybrid fusion used in production. Queries with an
empty `expected` are out of scope: the right behaviour is a confidence below the threshold.

--sweep     also tries other full-text bonus weights (how TEXT_BONUS was chosen)
--calibrate fits the confidence curve and the answer threshold (CONFIDENCE_COEFFICIENTS,
            KB_ANSWER_THRESHOLD), fitting on two businesses and checking on the third in turn.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
MODES = ("vector", "text", "rrf", "hybrid")


def load_cases(business: str) -> list[tuple[str, str]]:
    with open(DATA / f"knowledge_queries_{business}.csv", encoding="utf-8", newline="") as handle:
        return [(row["query"], row["expected"]) for row in csv.DictReader(handle)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--calibrate", action="store_true")
    options = parser.parse_args()
    _django.setup()

    from django.db import connection
    from django_tenants.utils import schema_context

    from chat.knowledge import selectors, services
    from chat.knowledge.evaluation import evaluate_queries
    from tenants.services import tenant_create

    businesses = sorted(path.stem.removeprefix("knowledge_faq_") for path in DATA.glob("knowledge_faq_*.csv"))
    schemas: dict[str, str] = {}
    for business in businesses:
        slug = f"kbq_{business}_{uuid.uuid4().hex[:6]}"
        tenant_create(slug=slug, name=f"Quality {business}", domain=f"{slug.replace('_', '-')}.bench.localhost")
        connection.set_schema_to_public()
        with schema_context(slug):
            started = time.perf_counter()
            report = services.faq_import_csv(text=(DATA / f"knowledge_faq_{business}.csv").read_text(),
                                             name=f"{business}.csv", origin="bench")
            services.sources_index_now(source_ids=report.to_index)
            print(f"{business}: {len(report.to_index)} FAQ entries indexed in {time.perf_counter() - started:.1f}s")
        schemas[business] = slug

    def run(mode: str) -> dict[str, object]:
        totals = {"n": 0, "top1": 0.0, "top3": 0.0, "mrr": 0.0, "scored": [], "unanswerable": []}
        started = time.perf_counter()
        for business, slug in schemas.items():
            with schema_context(slug):
                summary = evaluate_queries(cases=load_cases(business), k=5, mode=mode)
            n = summary.answerable
            totals["n"] += n
            totals["top1"] += summary.top1 * n
            totals["top3"] += summary.top3 * n
            totals["mrr"] += summary.mrr * n
            totals["scored"] += summary.scored
            totals["unanswerable"] += summary.unanswerable_scores
            if mode == "hybrid":
                totals.setdefault("by_business", {})[business] = summary.features
        n = totals["n"]
        totals.update(top1=totals["top1"] / n, top3=totals["top3"] / n, mrr=totals["mrr"] / n,
                      ms=(time.perf_counter() - started) * 1000 / (n + len(totals["unanswerable"])))
        return totals

    results = {mode: run(mode) for mode in MODES}
    n = results["hybrid"]["n"]
    unanswerable = len(results["hybrid"]["unanswerable"])
    print(f"\n{n} answerable queries, {unanswerable} out-of-scope, {len(schemas)} businesses")
    print(f"{'ranking':<22} {'top-1':>6} {'top-3':>6} {'MRR':>6} {'ms/query':>9}")
    labels = {"vector": "vector only", "text": "full text only", "rrf": "reciprocal rank fusion",
              "hybrid": "hybrid (production)"}
    for mode in MODES:
        row = results[mode]
        print(f"{labels[mode]:<22} {row['top1']:>6.3f} {row['top3']:>6.3f} {row['mrr']:>6.3f} {row['ms']:>9.1f}")

    threshold = selectors.kb_answer_threshold()
    scored, out_of_scope = results["hybrid"]["scored"], results["hybrid"]["unanswerable"]
    print(f"\nthreshold {threshold:.2f}: " + decision_line(scored, out_of_scope, threshold))

    if options.sweep:
        print("\nfull-text bonus sweep (hybrid):")
        original = selectors.TEXT_BONUS
        for bonus in (0.0, 0.04, 0.08, 0.12, 0.16, 0.24, 0.36):
            selectors.TEXT_BONUS = bonus
            row = run("hybrid")
            print(f"  TEXT_BONUS={bonus:<5} top-1 {row['top1']:.3f} top-3 {row['top3']:.3f} MRR {row['mrr']:.3f}")
        selectors.TEXT_BONUS = original
        print("overall-closeness share sweep (hybrid):")
        original = selectors.OVERALL_SHARE
        for share in (0.0, 0.1, 0.2, 0.3, 0.5):
            selectors.OVERALL_SHARE = share
            row = run("hybrid")
            print(f"  OVERALL_SHARE={share:<4} top-1 {row['top1']:.3f} top-3 {row['top3']:.3f} MRR {row['mrr']:.3f}")
        selectors.OVERALL_SHARE = original

    if options.calibrate:
        calibrate(results["hybrid"]["by_business"])


def decision_line(scored: list[tuple[float, bool]], out_of_scope: list[float], threshold: float) -> str:
    right = sum(1 for score, correct in scored if correct and score >= threshold)
    wrong = sum(1 for score, correct in scored if not correct and score >= threshold)
    abstained_ok = sum(1 for score in out_of_scope if score < threshold)
    return (f"answers {right}/{len(scored)} in-scope queries with the right source first, answers {wrong} with a "
            f"wrong one, declines {abstained_ok}/{len(out_of_scope)} out-of-scope queries")


def decision_summary(points: list[tuple[float, bool]], threshold: float) -> str:
    right = sum(1 for value, label in points if label and value >= threshold)
    wrong = sum(1 for value, label in points if not label and value >= threshold)
    return f"{right} right answers, {wrong} wrong answers, {len(points) - right - wrong} declined"


def fit_logistic(points: list[tuple[float, float, bool]]) -> tuple[float, float, float]:
    """Maximum-likelihood logistic regression on (relevance, margin) by Newton's method."""
    import numpy as np

    x = np.array([[1.0, relevance, margin] for relevance, margin, _ in points])
    y = np.array([1.0 if label else 0.0 for _, _, label in points])
    weights = np.zeros(3)
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ weights)))
        gradient = x.T @ (p - y)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-6 * np.eye(3)
        weights -= np.linalg.solve(hessian, gradient)
    return float(weights[0]), float(weights[1]), float(weights[2])


def _apply(coefficients: tuple[float, float, float], points: list[tuple[float, float, bool]]) -> list[tuple[float, bool]]:
    a, b, c = coefficients
    return [(1 / (1 + math.exp(-(a + b * relevance + c * margin))), label) for relevance, margin, label in points]


WRONG_ANSWER_COST = 2.0


def best_threshold(points: list[tuple[float, bool]]) -> float:
    """The confidence that maximises right answers minus twice the wrong ones (declining costs 0).

    A wrong answer misleads a customer; declining hands over to a person. With a calibrated
    confidence this lands near 2/3: answer when the top result is at least twice as likely right.
    """
    candidates = sorted({round(value, 2) for value, _ in points} | {0.5})

    def utility(threshold: float) -> float:
        return sum((1.0 if label else -WRONG_ANSWER_COST) for value, label in points if value >= threshold)

    return max(candidates, key=lambda threshold: (utility(threshold), -abs(threshold - 0.5)))


def calibrate(by_business: dict[str, list[tuple[float, float, bool]]]) -> None:
    names = sorted(by_business)

    def points(chosen: list[str]) -> list[tuple[float, float, bool]]:
        return [point for name in chosen for point in by_business[name]]

    print("\ncalibration (label: the top result is the right source; out-of-scope queries are never right)")
    for held_out in names:
        train = [name for name in names if name != held_out]
        coefficients = fit_logistic(points(train))
        threshold = best_threshold(_apply(coefficients, points(train)))
        print(f"  fit on {'+'.join(train)}: ({', '.join(f'{v:.2f}' for v in coefficients)}) threshold "
              f"{threshold:.2f}; on {held_out}: " + decision_summary(_apply(coefficients, points([held_out])), threshold))
    coefficients = fit_logistic(points(names))
    confidence = _apply(coefficients, points(names))
    threshold = best_threshold(confidence)
    print(f"  all: CONFIDENCE_COEFFICIENTS = ({', '.join(f'{v:.2f}' for v in coefficients)}), "
          f"KB_ANSWER_THRESHOLD = {threshold:.2f}: " + decision_summary(confidence, threshold))
    print("  confidence band -> share of top results that were right:")
    for low in (0.0, 0.2, 0.4, 0.6, 0.8):
        band = [label for value, label in confidence if low <= value < low + 0.2 or (low == 0.8 and value == 1.0)]
        if band:
            print(f"    {low:.1f}-{low + 0.2:.1f}: {sum(band) / len(band):.2f} of {len(band)}")


if __name__ == "__main__":
    main()
