"""How long the text functions take on hostile input: long runs that made patterns backtrack.

    .venv/bin/python bench/hostile_text.py

Each line: the function, the input (4,000 characters, the widget's message limit, unless said),
and the median time of five calls. Pure functions: no database, no Redis.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from _django import setup

CASES: list[tuple[str, str, str]] = [
    ("knowledge heading", "'# a' + 4,000 spaces + 'b'", "# a" + " " * 4000 + "b"),
    ("knowledge heading", "'# ' + 4,000 '#' + 'b'", "# " + "#" * 4000 + "b"),
    ("offline greeting", "'hi' + 3,997 '!' + 'x'", "hi" + "!" * 3997 + "x"),
    ("e-mail in free text", "4,000 letters", "x" * 4000),
    ("e-mail in free text", "2,000 times 'a.'", "a." * 2000),
    ("fact check", "4,000 digits", "1" * 4000),
    ("fact check", "sentence of 'shipped ' x 500", "shipped " * 500),
    ("fact check", "2,000 times '1\"' (measurements)", '1"' * 2000),
    ("fact check", "'1 1 ' x 1,000 + 'days' (counts)", "1 1 " * 1000 + "days"),
    ("checked answer", "'£1 + ' x 800 + '= £2' (a sum)", "£1 + " * 800 + "= £2"),
    ("checked answer", "2,000 times '1-'", "1-" * 2000),
    ("checked answer", "'Ab & ' x 800 (title case)", "Ab & " * 800),
    ("offline question parts", "'fish and ' x 440", ("fish and " * 440)[:4000]),
    ("offline question parts", "'and is ' x 570", ("and is " * 570)[:4000]),
    ("offline question parts", "'is there wifi? ' x 260", ("is there wifi? " * 260)[:4000]),
]


def timed(function: Callable[[str], object], text: str) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        function(text)
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def checked_answer(text: str) -> object:
    """The whole check a model's answer gets: claims with names, and the answer screen, sentence by sentence."""
    from chat.assistant.answer_screen import AnswerScreen
    from chat.assistant.factcheck import SentenceGate, supported_facts

    gate = SentenceGate(facts=supported_facts([]), screen=AnswerScreen(question="how much is it?", language="en"))
    gate.feed(text)
    return gate.finish()


def main() -> None:
    setup()
    from chat.assistant import factcheck, offline, tools
    from chat.knowledge import chunking

    functions: dict[str, Callable[[str], object]] = {
        "knowledge heading": lambda text: chunking.document_chunks(title="T", text=text + "\n\nBody."),
        "offline greeting": lambda text: offline._GREETING.match(text),  # noqa: SLF001
        "e-mail in free text": lambda text: (offline.contact_in(text),
                                             tools.TurnContext(customer_texts=[text]).contact_details()),
        "fact check": factcheck.extract_claims,
        "checked answer": checked_answer,
        "offline question parts": lambda text: offline.question_parts(text, offline.ConversationState(
            language="en", pending_order_number="", failed_verifications=0,
            human_only_topics=["complaint", "wholesale"], business_name="Shop")),
    }
    for name, described, text in CASES:
        print(f"{name:<22} {described:<32} {timed(functions[name], text):8.2f} ms", flush=True)


if __name__ == "__main__":
    main()
