"""How long the check of a model's answer takes: the facts of a turn built, then an answer fed
through the sentence gate (claims and the answer screen) in small streamed pieces.

    .venv/bin/python bench/answer_check.py

Pure functions, no database: the demo shop's catalog (tenants/fixtures/demo/shop/products.csv) as
the business's names, one product's tool result, a day's opening hours and a knowledge passage.
"""

from __future__ import annotations

import csv
import statistics
import time

from _django import setup

ANSWER = ("Thanks for asking! The Essential Hoodie in Navy M is sold out right now, sorry. "
          "The Black M is in stock at €59.95, and we open at 09:00 on Friday 27 November. "
          "You can reach us on +31 20 555 0142 or hello@threadline.example. "
          "Returns are free within 30 days. Our Essential Hoodie is organic cotton fleece. Anything else?")
RUNS = 200


def main() -> None:
    setup()
    from chat.assistant.answer_screen import AnswerScreen
    from chat.assistant.factcheck import SentenceGate, supported_facts
    from tenants.demo import FIXTURES

    catalog: dict[str, dict[str, object]] = {}
    with (FIXTURES / "shop" / "products.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            entry = catalog.setdefault(row["name"], {"name": row["name"], "category": row["category"],
                                                     "synonyms": row["synonyms"].split("|"), "variants": []})
            entry["variants"].append({"size": row["size"], "colour": row["colour"]})  # type: ignore[attr-defined]
    business = {"name": "Threadline", "tagline": "Everyday clothes", "phone": "+31 20 555 0142",
                "email": "hello@threadline.example", "address": "Werfkade 14, 1033 RK Amsterdam", "currency": "EUR",
                "catalog": list(catalog.values())}
    product = {"found": True, "products": [{"name": "Essential Hoodie", "currency": "EUR", "variants": [
        {"size": "M", "colour": colour, "stock": stock, "available": stock > 0, "price_minor": 5995, "currency": "EUR"}
        for colour, stock in (("Black", 24), ("Navy", 0))]}]}
    hours = {"date": "2026-11-27", "closed": False, "ranges": [{"opens": "09:00", "closes": "17:30"}]}
    knowledge = {"passages": [{"title": "Returns", "text": "Returns are free within 30 days."}]}
    screen = AnswerScreen(question="Do you have the Essential Hoodie in navy, size M?", language="en",
                          business_words="Threadline Everyday clothes")

    built, checked = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        facts = supported_facts([product, hours, knowledge], business=business, customer_texts=["hi"])
        built.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        gate = SentenceGate(facts=facts, screen=screen)
        for position in range(0, len(ANSWER), 4):
            gate.feed(ANSWER[position:position + 4])
        result = gate.finish()
        checked.append((time.perf_counter() - started) * 1000)
    assert result.check.ok and not result.problems, result
    print(f"facts of a turn ({len(catalog)} products' names): median {statistics.median(built):.2f} ms")
    print(f"an answer of {len(ANSWER)} characters, 6 sentences, fed 4 characters at a time: "
          f"median {statistics.median(checked):.2f} ms ({statistics.median(checked) / 6:.2f} ms a sentence)")


if __name__ == "__main__":
    main()
