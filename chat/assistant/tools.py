"""The assistant's tools: what both the LLM and the offline mode may look up, and nothing else.

Each tool runs inside the tenant's schema (the caller's responsibility) and returns plain JSON:
the same dict is shown to the model, checked against by the fact checker and stored on the
answer. Order lookups only accept a contact detail the customer typed themselves in this
conversation, so neither a knowledge document nor a manipulated model can look up an order with
an e-mail address it found elsewhere.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone

from chat.knowledge.product_vectors import product_discovery
from chat.knowledge.selectors import SearchResult, kb_answer_threshold, kb_search
from config.outside_urls import outside_url_or_empty
from orders import selectors as commerce
from orders.catalog_understanding import product_question_facts

KNOWLEDGE_RESULTS = 4

TOOL_SPECS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "order_lookup",
        "description": "Status, items, tracking and delivery estimate of one order. Needs the order number AND "
                       "the e-mail address or phone number the customer gave in this conversation.",
        "parameters": {"type": "object", "properties": {
            "number": {"type": "string", "description": "The order number as the customer wrote it."},
            "email_or_phone": {"type": "string", "description": "E-mail or phone number the customer typed."},
        }, "required": ["number", "email_or_phone"]},
    }},
    {"type": "function", "function": {
        "name": "product_availability",
        "description": "Find products in the catalog with their price, variants (size, colour) and stock. Says "
                       "whether the variant asked for exists (variant_found) and is available, the nearest "
                       "available alternatives when it is not, and prices with extras added (price_with_extras). "
                       "Stock counts are included only when the business shows them to customers.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "description": "What the customer is looking for, in their words, with "
                                                       "any extras: 'blue hoodie', 'large latte with oat milk'."},
            "variant": {"type": "string", "description": "Size or colour asked for, e.g. 'M' or 'black'."},
        }, "required": ["query"]},
    }},
    {"type": "function", "function": {
        "name": "product_search",
        "description": "Find products that fit what the customer describes without naming a product ('something "
                       "warm for winter', 'a gift under 25 euros', 'anything vegan?'). Returns up to four products "
                       "with price, availability (in_stock, sold_out or pre_order) and the variants that fit, and "
                       "the filters understood (price limits, sizes, colours, categories, materials, diets). "
                       "Recommend only products it returns, with the prices it gives; say a pre-order is one.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "description": "The customer's wish in their own words, with any price "
                                                       "limit, size or colour: 'warm jacket under 150 euros in M'."},
        }, "required": ["query"]},
    }},
    {"type": "function", "function": {
        "name": "opening_hours",
        "description": "Opening hours: whether the business is open now, when it opens next, and the hours "
                       "on a given date (holidays and special hours included).",
        "parameters": {"type": "object", "properties": {
            "date": {"type": "string", "description": "YYYY-MM-DD; omit for today and right now."},
        }},
    }},
    {"type": "function", "function": {
        "name": "knowledge_search",
        "description": "Search the business's own FAQ and pages. Use it for policies, services and anything "
                       "not covered by the other tools.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string"},
        }, "required": ["query"]},
    }},
    {"type": "function", "function": {
        "name": "handoff",
        "description": "Hand the conversation to a person on the team: when the customer asks for a person, "
                       "for complaints, or when you cannot help.",
        "parameters": {"type": "object", "properties": {
            "reason": {"type": "string"},
        }, "required": ["reason"]},
    }},
]
TOOL_NAMES = {spec["function"]["name"] for spec in TOOL_SPECS}

# What a customer's e-mail address and phone number look like in free text (offline mode uses them too).
# An address starts where a run of its characters starts: tried from every position inside a long
# run with no "@" (a 4,000-letter "word"), the pattern rescanned the run each time, quadratically.
EMAIL_PATTERN = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(\.[\w-]+)+")
PHONE_PATTERN = re.compile(r"\+?\d[\d\s().-]{6,}\d")


@dataclass
class TurnContext:
    """What the tools may rely on in one turn: the customer's own words and the tenant's clock."""

    customer_texts: list[str]
    now: datetime = field(default_factory=timezone.now)
    handoff_reason: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    best_knowledge_score: float | None = None
    # (order number, e-mail or phone) of an order the customer proved is theirs in this turn: the
    # engine records the order's contact details on the conversation's contact once the answer is stored.
    verified_order: tuple[str, str] | None = None
    # The conversation, for what an earlier answer offered ("in M?" after a recommendation).
    conversation_id: int | None = None

    def contact_details(self) -> set[str]:
        found: set[str] = set()
        for text in self.customer_texts:
            found.update(match.group(0).strip().casefold() for match in EMAIL_PATTERN.finditer(text))
            found.update(re.sub(r"\D", "", match.group(0)) for match in PHONE_PATTERN.finditer(text))
        return found


def contact_was_given_by_customer(value: str, context: TurnContext) -> bool:
    value = value.strip()
    if "@" in value:
        return value.casefold() in context.contact_details()
    digits = re.sub(r"\D", "", value)
    return bool(digits) and any(commerce.phones_match(digits, known) for known in context.contact_details()
                                if "@" not in known)


def run_tool(name: str, arguments: dict[str, Any], context: TurnContext) -> dict[str, Any]:
    """Run one tool call and remember it (call, result, sources) on the turn."""
    if name not in TOOL_NAMES:
        result: dict[str, Any] = {"error": f"There is no tool called {name!r}."}
    else:
        try:
            result = _TOOLS[name](arguments, context)
        except (TypeError, ValueError) as exc:
            result = {"error": f"Bad arguments for {name}: {exc}"}
    context.calls.append({"name": name, "arguments": arguments, "result": result})
    context.results.append(result)
    return result


def _order_lookup(arguments: dict[str, Any], context: TurnContext) -> dict[str, Any]:
    number = str(arguments.get("number", "")).strip()
    contact = str(arguments.get("email_or_phone", "")).strip()
    if not number or not contact:
        return {"found": False, "message": "Ask the customer for the order number and the e-mail address or "
                                           "phone number used for the order."}
    if not contact_was_given_by_customer(contact, context):
        return {"found": False, "message": "Ask the customer to type the e-mail address or phone number used "
                                           "for the order; only details the customer gives can verify it."}
    result = commerce.order_lookup(number=number, email_or_phone=contact)
    if result.found:
        context.verified_order = (number, contact)
    return result.as_dict()


def _product_availability(arguments: dict[str, Any], context: TurnContext) -> dict[str, Any]:
    query = str(arguments.get("query", "")).strip()
    if not query:
        raise ValueError("query is required")
    variant = str(arguments.get("variant") or "").strip()
    # The same understanding as the offline answers: a variant the product does not have is not
    # silently swapped for one it has.
    return product_question_facts(text=f"{query} {variant}".strip()).as_dict()


def _product_search(arguments: dict[str, Any], context: TurnContext) -> dict[str, Any]:
    query = str(arguments.get("query", "")).strip()
    if not query:
        raise ValueError("query is required")
    # The offline answers' search: the same products, filters and order in both modes.
    return product_discovery(query=query, limit=4).as_dict()


def _opening_hours(arguments: dict[str, Any], context: TurnContext) -> dict[str, Any]:
    requested = arguments.get("date")
    now = context.now
    zone = commerce.tenant_zone()
    today = now.astimezone(zone).date()
    if requested:
        day = date.fromisoformat(str(requested))
        return {"date": day.isoformat(), "hours": commerce.opening_hours_on(day=day).as_dict()}
    state = commerce.is_open_at(moment=now)
    week = [commerce.opening_hours_on(day=today + timedelta(days=offset)).as_dict() for offset in range(7)]
    return {"now": state.as_dict(), "today": week[0], "next_7_days": week}


def _knowledge_search(arguments: dict[str, Any], context: TurnContext) -> dict[str, Any]:
    query = str(arguments.get("query", "")).strip()
    if not query:
        raise ValueError("query is required")
    results = kb_search(query=query, k=KNOWLEDGE_RESULTS)
    threshold = kb_answer_threshold()
    if results:
        best = results[0].score
        context.best_knowledge_score = max(best, context.best_knowledge_score or 0.0)
    confident = [result for result in results if result.score >= threshold]
    for result in confident:
        cite_source(context, result)
    return {
        "confident": bool(confident),
        "passages": [{"title": r.title, "text": r.content, "score": round(r.score, 3), "source_id": r.source_id}
                     for r in (confident or results[:2])],
        "note": "" if confident else "Nothing in the knowledge base answers this with confidence.",
    }


def _handoff(arguments: dict[str, Any], context: TurnContext) -> dict[str, Any]:
    context.handoff_reason = str(arguments.get("reason") or "The assistant asked for a person.")[:300]
    return {"handed_over": True}


_TOOLS = {
    "order_lookup": _order_lookup,
    "product_availability": _product_availability,
    "product_search": _product_search,
    "opening_hours": _opening_hours,
    "knowledge_search": _knowledge_search,
    "handoff": _handoff,
}


def cite_source(context: TurnContext, result: SearchResult) -> None:
    if any(source["source_id"] == result.source_id for source in context.sources):
        return
    # Sources are sent to the customer's widget and stored with the answer: an address only if it is http(s).
    context.sources.append({"source_id": result.source_id, "title": result.title,
                            "url": outside_url_or_empty(result.url),
                            "score": round(result.score, 3), "kind": result.kind})


def tool_result_json(result: dict[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False, default=str)
