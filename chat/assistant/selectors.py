"""What the assistant reads to answer one customer message, in one round trip to the database.

Every answer starts here, and a burst of questions means hundreds of these at once in one process:
the ORM would take five queries and about four milliseconds of CPU per answer to build them, most
of it spent composing SQL, so the turn is read with one statement of its own instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import connection

from chat.assistant.factcheck import FactSet, business_fact_base
from chat.conversations.models import Author, BusinessProfile, Conversation, Message
from config.content_version import ContentCache
from config.secrets_at_rest import secret_decrypt


@dataclass(frozen=True)
class TurnProfile:
    """What an answer needs of the business profile."""

    name: str
    tone: str
    languages: list[str]
    human_only_topics: list[str]
    llm_api_key: str
    llm_base_url: str
    llm_chat_model: str

    @classmethod
    def of(cls, profile: BusinessProfile) -> TurnProfile:
        return cls(name=profile.name, tone=profile.tone, languages=list(profile.languages or []),
                   human_only_topics=list(profile.human_only_topics or []), llm_api_key=profile.llm_api_key,
                   llm_base_url=profile.llm_base_url, llm_chat_model=profile.llm_chat_model)


@dataclass(frozen=True)
class TurnSnapshot:
    message_id: int
    text: str
    conversation_id: int
    status: str
    language: str
    pending_order_number: str
    failed_verifications: int
    low_confidence_streak: int
    # The assistant's answer to this message, when one is stored already (a retried answer).
    answered_id: int | None
    # The conversation's visible messages before this one, oldest first: (author, text).
    recent: list[tuple[str, str]]
    # None when the tenant has no profile row yet.
    profile: TurnProfile | None
    # No earlier message of the customer in this conversation.
    is_first_question: bool


def _json(value: Any) -> Any:
    # Django's PostgreSQL backend hands json columns back as text: fields decode their own.
    return json.loads(value) if isinstance(value, str) else value


def turn_snapshot(*, message_id: int, history: int) -> TurnSnapshot | None:
    """The customer message `message_id` with its conversation, the `history` visible messages
    before it, the business profile and whether it was answered already; None if there is no such
    customer message in the current schema.
    """
    quote = connection.ops.quote_name
    messages, conversations = quote(Message._meta.db_table), quote(Conversation._meta.db_table)
    profiles = quote(BusinessProfile._meta.db_table)
    is_first_question = (f"NOT EXISTS (SELECT 1 FROM {messages} e WHERE e.conversation_id = m.conversation_id "
                         "AND e.author = %(customer)s AND NOT e.internal AND e.id <> m.id AND e.created <= m.created)")
    sql = f"""
        SELECT m.id, m.text, c.id, c.status, c.language, c.pending_order_number, c.failed_verifications,
               c.low_confidence_streak,
               (SELECT a.id FROM {messages} a WHERE a.in_reply_to_id = m.id AND a.author = %(assistant)s LIMIT 1),
               (SELECT coalesce(json_agg(json_build_array(h.author, h.text) ORDER BY h.created, h.id), '[]'::json)
                  FROM (SELECT author, text, created, id FROM {messages}
                         WHERE conversation_id = m.conversation_id AND NOT internal AND id <> m.id
                           AND created <= m.created
                         ORDER BY created DESC, id DESC LIMIT %(history)s) h),
               p.name, p.tone, p.languages, p.human_only_topics, p.llm_api_key, p.llm_base_url, p.llm_chat_model,
               {is_first_question}
          FROM {messages} m
          JOIN {conversations} c ON c.id = m.conversation_id
          LEFT JOIN {profiles} p ON p.id = 1
         WHERE m.id = %(message)s AND m.author = %(customer)s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"message": message_id, "customer": Author.CUSTOMER, "assistant": Author.ASSISTANT,
                             "history": history})
        row = cursor.fetchone()
    if row is None:
        return None
    (message_pk, text, conversation_id, status, language, pending_order_number, failed_verifications, streak,
     answered_id, recent, name, tone, languages, human_only_topics, api_key, base_url, chat_model, is_first) = row
    profile = None if name is None else TurnProfile(
        name=name, tone=tone, languages=list(_json(languages) or []),
        human_only_topics=list(_json(human_only_topics) or []),
        # Read by hand, so decrypted by hand: the column holds a token (config.secrets_at_rest).
        llm_api_key=secret_decrypt(api_key), llm_base_url=base_url,
        llm_chat_model=chat_model)
    return TurnSnapshot(
        message_id=message_pk, text=text, conversation_id=conversation_id, status=status, language=language,
        pending_order_number=pending_order_number, failed_verifications=failed_verifications,
        low_confidence_streak=streak, answered_id=answered_id,
        recent=[(str(author), str(body)) for author, body in _json(recent)], profile=profile,
        is_first_question=bool(is_first))


def business_contact_details() -> dict[str, str]:
    """The address, phone number and e-mail address the business gives customers in its profile."""
    profile = BusinessProfile.objects.filter(pk=1).values("address", "phone", "contact_email").first() or {}
    return {"address": profile.get("address", ""), "phone": profile.get("phone", ""),
            "email": profile.get("contact_email", "")}


# Profile, catalog names and currency are content: every change to them bumps the tenant's content
# version, so one read serves every LLM answer until then (it was four queries an answer, the whole
# catalog among them).
_business_facts: ContentCache[dict[str, Any]] = ContentCache(entries=256)


def business_facts() -> dict[str, Any]:
    """What backs an answer's contact details and names besides the turn's tool results: the
    business's own profile and the names in its catalog (chat.assistant.factcheck.supported_facts).
    Used by LLM answers, never by the offline mode, which only says what it looked up. Shared by the
    answers of a content version: read it, never change it."""
    return _business_facts.get(_business_facts_read)


_business_fact_bases: ContentCache[FactSet] = ContentCache(entries=256)


def business_facts_checked() -> tuple[dict[str, Any], FactSet]:
    """business_facts(), and the same walked into the form an answer's claims are checked against
    (factcheck.business_fact_base), kept with it: an LLM answer checks against it every model round."""
    business = business_facts()
    return business, _business_fact_bases.get(lambda: business_fact_base(business))


def _business_facts_read() -> dict[str, Any]:
    from orders.models import Product, Variant
    from orders.selectors import commerce_currency

    profile = (BusinessProfile.objects.filter(pk=1)
               .values("name", "tagline", "address", "phone", "contact_email").first()) or {}
    variants: dict[int, list[dict[str, str]]] = {}
    for product_id, size, colour in Variant.objects.filter(product__is_sellable=True).values_list(
            "product_id", "size", "colour"):
        variants.setdefault(product_id, []).append({"size": size, "colour": colour})
    catalog = [{"name": name, "category": category, "synonyms": list(_json(synonyms) or []),
                "variants": variants.get(product_id, [])}
               for product_id, name, category, synonyms in Product.objects.filter(is_sellable=True).values_list(
                   "id", "name", "category", "synonyms")]
    return {"name": profile.get("name", ""), "tagline": profile.get("tagline", ""),
            "address": profile.get("address", ""), "phone": profile.get("phone", ""),
            "email": profile.get("contact_email", ""), "currency": commerce_currency(), "catalog": catalog}
