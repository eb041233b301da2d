"""The assistant engine: one customer message in, one checked, stored, streamed answer out.

    answer_deliver(schema_name=..., message_id=..., delivery=...)

The customer's message is already stored (chat.conversations.services.message_receive), by any
channel; `answer_deliver` answers it and hands the answer to the channel's adapter
(chat.conversations.delivery), and `answer_customer_message` is the answer itself. The engine
loads the turn, decides the mode (LLM when a provider is configured, its circuit is closed and the
plan's budget allows; the offline assistant otherwise, or when the LLM fails), streams the answer
through `sink` as it is produced and checked, and stores it, unless a person took the conversation
over in the meantime: then nothing is stored and nothing more is streamed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone

from chat.assistant import offline, tools
from chat.assistant.answer_screen import AnswerScreen, Problem, ProblemKind, parts_unanswered
from chat.assistant.answer_screen import feedback as screen_feedback
from chat.assistant.cache import CachedAnswer, answer_cache_get_or_compute
from chat.assistant.factcheck import FactSet, GateResult, SentenceGate, supported_facts
from chat.assistant.language import detect_language, reply_language
from chat.assistant.llm import (
    OPENAI_DEFAULT_BASE_URL,
    ProviderConfig,
    StreamFinished,
    TextDelta,
    ToolCall,
    chat_stream,
    provider_config_default,
    run_then_close_llm_clients,
)
from chat.assistant.prompts import system_prompt
from chat.assistant.resilience import LLMError
from chat.assistant.selectors import TurnProfile, business_facts_checked, turn_snapshot
from chat.assistant.usage import llm_allowed_async
from chat.conversations import services
from chat.conversations.delivery import AnswerDelivery, LaterDelivery
from chat.conversations.events import message_wire
from chat.conversations.models import Author, Conversation, Message
from config.content_version import content_version_get, content_version_held
from config.db import in_schema
from config.metrics import answer_observe
from orders import selectors as commerce

logger = logging.getLogger(__name__)

HISTORY_MESSAGES = 12
MAX_TOOL_ROUNDS = 4
STREAM_WORDS_PER_DELTA = 4
LOW_CONFIDENCE_INTENTS = {"unknown"}
CACHEABLE_TOOLS = {"knowledge_search", "product_availability"}


class AnswerSink(Protocol):
    """Where streamed text goes: a channel's delivery (chat.conversations.delivery), a console, nowhere."""

    async def delta(self, text: str) -> None: ...


class NullSink:
    async def delta(self, text: str) -> None:
        return None


@dataclass
class AnswerResult:
    message_id: int | None
    text: str
    mode: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    quick_replies: list[str] = field(default_factory=list)
    handoff: bool = False
    replied: bool = True
    confidence: float | None = None
    first_token_ms: int | None = None
    total_ms: int = 0
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_minor: int = 0
    # The stored answer as events and APIs show it (events.message_wire), for the widget's last frame.
    stored_message: dict[str, Any] | None = None
    # The question had its answer already (the sweeper and a live answer raced): this is that one.
    answered_before: bool = False


@dataclass
class Turn:
    schema_name: str
    conversation_id: int
    message_id: int
    text: str
    status: str
    may_reply: bool
    already_answered: Message | None
    state: offline.ConversationState
    low_confidence_streak: int
    history: list[dict[str, str]]
    customer_texts: list[str]
    profile_tone: str
    profile_languages: list[str]
    timezone_name: str
    provider: ProviderConfig | None
    is_first_question: bool
    # The tenant's content version, read once before the turn's data: it keys the answer cache and
    # every content cache the turn reads (content_version_held); None when Redis could not tell
    # (then nothing is cached).
    content_version: str | None = None


def turn_load(schema_name: str, message_id: int) -> Turn:
    """Everything an answer to `message_id` needs from the database, in one trip (run it in a
    database thread, inside the tenant's schema)."""
    # Before the data it keys: a change committed meanwhile keys an entry nobody asks for again.
    version = content_version_get()
    with content_version_held(schema_name=schema_name, version=version):
        return _turn_load(schema_name, message_id, version)


def _turn_load(schema_name: str, message_id: int, version: str | None) -> Turn:
    snapshot = turn_snapshot(message_id=message_id, history=HISTORY_MESSAGES)
    if snapshot is None:
        raise Message.DoesNotExist(f"No customer message {message_id} in {schema_name}.")
    if snapshot.profile is None:
        profile = TurnProfile.of(services.business_profile_get())  # creates the tenant's profile row
    else:
        profile = snapshot.profile
    history = []
    for author, text in snapshot.recent:
        if author == Author.CUSTOMER:
            history.append({"role": "user", "content": text})
        elif author in (Author.ASSISTANT, Author.AGENT):
            prefix = "(A team member wrote) " if author == Author.AGENT else ""
            history.append({"role": "assistant", "content": prefix + text})
    customer_texts = [text for author, text in snapshot.recent if author == Author.CUSTOMER] + [snapshot.text]
    written = detect_language(snapshot.text, default=snapshot.language or "en")
    # Answered in the customer's language when the business lists it, otherwise in the business's own.
    language = reply_language(written, profile.languages)
    provider: ProviderConfig | None
    if profile.llm_api_key:
        # A tenant's own key goes only where the tenant said, or to OpenAI itself: never to the
        # platform's endpoint (another vendor, a proxy), which would receive someone else's secret.
        provider = ProviderConfig(api_key=profile.llm_api_key, base_url=profile.llm_base_url or OPENAI_DEFAULT_BASE_URL,
                                  chat_model=profile.llm_chat_model or ProviderConfig.chat_model)
    else:
        provider = provider_config_default()
    answered = (Message.objects.get(pk=snapshot.answered_id) if snapshot.answered_id is not None else None)
    return Turn(
        schema_name=schema_name, conversation_id=snapshot.conversation_id, message_id=snapshot.message_id,
        text=snapshot.text, status=snapshot.status,
        may_reply=Conversation.assistant_may_reply_in(snapshot.status),
        already_answered=answered,
        state=offline.ConversationState(language=language, pending_order_number=snapshot.pending_order_number,
                                        failed_verifications=snapshot.failed_verifications,
                                        human_only_topics=profile.human_only_topics,
                                        business_name=profile.name,
                                        unlisted_language="" if written == language else written,
                                        business_languages=list(profile.languages)),
        low_confidence_streak=snapshot.low_confidence_streak, history=history, customer_texts=customer_texts,
        profile_tone=profile.tone, profile_languages=profile.languages,
        # Read from the tenant's row: inside schema_context the connection's tenant has no time zone.
        timezone_name=commerce.tenant_zone().key, provider=provider,
        is_first_question=snapshot.is_first_question,
        content_version=version)


def _answer_store_and_count(schema_name: str, message_id: int, answer: services.AnswerToStore) -> services.StoredAnswer:
    # Stored and counted together: one trip to a database thread, one transaction.
    return services.assistant_answer_store(customer_message_id=message_id, answer=answer, count_usage=True)


def _mark_not_needed(message_id: int) -> None:
    from chat.conversations.models import AnswerState

    Message.objects.filter(pk=message_id, answer_state=AnswerState.PENDING).update(answer_state=AnswerState.NOT_NEEDED)


async def answer_customer_message(*, schema_name: str, message_id: int, sink: AnswerSink | None = None,
                                  now: datetime | None = None) -> AnswerResult:
    """The core's answer to one stored customer message: drafted, checked, streamed through `sink`
    as it is checked, and stored once it is whole. Returns the answer stored already, if any."""
    sink = sink or NullSink()
    started = time.monotonic()
    turn = await in_schema(schema_name, turn_load, schema_name, message_id)
    # The content version is read once a turn: every cache the answer reads keys by the turn's.
    with content_version_held(schema_name=schema_name, version=turn.content_version):
        return await _answer_turn(turn, sink, started, now)


async def _answer_turn(turn: Turn, sink: AnswerSink, started: float, now: datetime | None) -> AnswerResult:
    schema_name, message_id = turn.schema_name, turn.message_id
    if turn.already_answered is not None:
        existing = turn.already_answered
        return AnswerResult(message_id=existing.pk, text=existing.text, mode=existing.mode, sources=existing.sources,
                            tool_calls=existing.tool_calls, quick_replies=existing.quick_replies, replied=True,
                            confidence=existing.confidence, stored_message=message_wire(existing),
                            answered_before=True)
    if not turn.may_reply:
        await in_schema(schema_name, _mark_not_needed, message_id)
        return AnswerResult(message_id=None, text="", mode="none", replied=False)

    now = now or timezone.now()
    context = tools.TurnContext(customer_texts=turn.customer_texts, now=now, conversation_id=turn.conversation_id)
    streamer = _Streamer(sink, started)
    draft = await _draft_answer(turn, context, streamer, now)
    if draft.handoff_reason:
        draft.text += await in_schema(schema_name, _away_note, turn.state.language, now)
    if not streamer.sent_everything_of(draft.text):
        await streamer.send_rest(draft.text)
    total_ms = int((time.monotonic() - started) * 1000)
    answer = services.AnswerToStore(
        text=draft.text, mode=draft.mode, sources=draft.sources, tool_calls=draft.tool_calls,
        quick_replies=draft.quick_replies, confidence=draft.confidence, low_confidence=draft.low_confidence,
        handoff_reason=draft.handoff_reason, model=draft.model, tokens_in=draft.tokens_in,
        tokens_out=draft.tokens_out, cost_minor=draft.cost_minor, latency_ms=total_ms,
        first_token_ms=streamer.first_token_ms, language=turn.state.language,
        pending_order_number=draft.pending_order_number, failed_verifications=draft.failed_verifications,
        finished_at=timezone.now())
    stored = await in_schema(schema_name, _answer_store_and_count, schema_name, message_id, answer)
    if stored.message is None:
        return AnswerResult(message_id=None, text="", mode="none", replied=False, total_ms=total_ms)
    if context.verified_order is not None:
        number, detail = context.verified_order
        await in_schema(schema_name, services.contact_verify_by_order, conversation_id=turn.conversation_id,
                        order_number=number, email_or_phone=detail)
    return AnswerResult(message_id=stored.message.pk, text=stored.message.text, mode=draft.mode,
                        sources=draft.sources, tool_calls=draft.tool_calls, quick_replies=draft.quick_replies,
                        handoff=stored.handed_over, confidence=draft.confidence,
                        first_token_ms=streamer.first_token_ms, total_ms=total_ms, model=draft.model,
                        tokens_in=draft.tokens_in, tokens_out=draft.tokens_out, cost_minor=draft.cost_minor,
                        stored_message=message_wire(stored.message))


def answer_customer_message_sync(*, schema_name: str, message_id: int, now: datetime | None = None) -> AnswerResult:
    """For commands and worker tasks, which have no event loop of their own."""
    return run_then_close_llm_clients(
        answer_customer_message(schema_name=schema_name, message_id=message_id, now=now))


async def answer_deliver(*, schema_name: str, message_id: int, delivery: AnswerDelivery,
                         now: datetime | None = None) -> AnswerResult | None:
    """The core path after a channel stored its customer's message (`services.message_receive`):
    the answer is drafted, checked and streamed through the channel's `delivery` as it is checked,
    stored, and handed to `delivery` whole; None when answering failed (the message stays pending
    and the sweeper answers it: the customer is told nothing false)."""
    await delivery.started()
    try:
        result = await answer_customer_message(schema_name=schema_name, message_id=message_id, sink=delivery,
                                               now=now)
    except Exception:
        logger.exception("answering message %s failed; the sweeper will retry", message_id)
        answer_observe(mode="none", outcome="failed", first_delta_ms=None, tokens_in=0, tokens_out=0, cost_minor=0)
        await delivery.finished(None)
        return None
    await delivery.finished(result.stored_message if result.replied else None)
    answer_observe(mode=result.mode, outcome=_outcome(result), first_delta_ms=result.first_token_ms,
                   tokens_in=result.tokens_in, tokens_out=result.tokens_out, cost_minor=result.cost_minor)
    return result


def _outcome(result: AnswerResult) -> str:
    """What became of an answer, for the metrics: a handful of values, never an id."""
    if not result.replied:
        return "not_needed"  # a person had the conversation, or took it over while it was drafted
    if result.answered_before:
        return "answered_before"
    return "handoff" if result.handoff else "answered"


def answer_deliver_later(*, schema_name: str, message_id: int, conversation_id: int, channel: str
                         ) -> AnswerResult | None:
    """`answer_deliver` for worker tasks (the sweeper; a messaging channel's answer task): nothing
    streams, and the stored answer is sent through the conversation's channel (`LaterDelivery`)."""
    delivery = LaterDelivery(schema_name=schema_name, conversation_id=conversation_id,
                             customer_message_id=message_id, channel=channel)
    return run_then_close_llm_clients(answer_deliver(schema_name=schema_name, message_id=message_id,
                                                     delivery=delivery))


class _Streamer:
    """Sends text to the sink and remembers what was sent and when the first piece went out."""

    def __init__(self, sink: AnswerSink, started: float) -> None:
        self.sink = sink
        self.started = started
        self.sent = ""
        self.first_token_ms: int | None = None
        # Set once the model's text started repeating the system prompt, or its answer's deadline
        # passed: nothing more of it is sent.
        self.withholding = False
        # Called when the first text goes out (the answer's deadline moves from first text to whole answer).
        self.on_first_text: Callable[[], None] | None = None
        # While an answer's deadlines apply, its model calls' (time.monotonic()): the whole answer's,
        # and its first text's until that is sent.
        self.answer_deadline: float | None = None
        self.first_text_deadline: float | None = None

    async def send(self, text: str) -> None:
        if not text:
            return
        first = self.first_token_ms is None
        if first:
            self.first_token_ms = int((time.monotonic() - self.started) * 1000)
            if self.on_first_text is not None:
                self.on_first_text()
        self.sent += text
        await self.sink.delta(text)

    async def send_model_text(self, text: str, echo: InstructionEcho) -> None:
        """Send checked model text, unless with what was sent before it it repeats the system prompt.

        The final answer is checked for that too, but by then it would have been on the customer's
        screen already: the check has to happen before each piece goes out.
        """
        if self.withholding:
            return
        if echo.found_in(self.sent + text):
            self.withholding = True
            return
        await self.send(text)

    async def send_words(self, text: str) -> None:
        """Offline answers stream like the LLM's: a few words per delta."""
        pieces = re.findall(r"\S+\s*|\s+", text)
        for index in range(0, len(pieces), STREAM_WORDS_PER_DELTA):
            await self.send("".join(pieces[index:index + STREAM_WORDS_PER_DELTA]))

    def sent_everything_of(self, text: str) -> bool:
        return self.sent == text

    async def send_rest(self, text: str) -> None:
        """Stream what is not sent yet; if the final text differs from what was streamed (a corrected
        answer), the final frame carries the whole text and replaces what was shown."""
        if text.startswith(self.sent):
            await self.send_words(text[len(self.sent):])


@dataclass
class Draft:
    text: str
    mode: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    quick_replies: list[str] = field(default_factory=list)
    confidence: float | None = None
    low_confidence: bool = False
    handoff_reason: str | None = None
    model: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_minor: int = 0
    pending_order_number: str | None = None
    failed_verifications: int | None = None
    cacheable: bool = False


def _draft_from_offline(result: offline.OfflineAnswer, context: tools.TurnContext, mode: str = "offline") -> Draft:
    return Draft(text=result.text, mode=mode, sources=list(context.sources), tool_calls=list(context.calls),
                 quick_replies=result.quick_replies, confidence=result.confidence,
                 low_confidence=result.intent in LOW_CONFIDENCE_INTENTS,
                 handoff_reason=result.handoff_reason or context.handoff_reason,
                 pending_order_number=result.pending_order_number, failed_verifications=result.failed_verifications,
                 cacheable=result.cacheable)


async def _draft_answer(turn: Turn, context: tools.TurnContext, streamer: _Streamer, now: datetime) -> Draft:
    text = turn.text
    language = turn.state.language
    # Requests for a person and the business's human-only topics never depend on a model.
    if offline.asks_for_person(text) or offline.human_only_topic(text, turn.state.human_only_topics):
        result = await in_schema(turn.schema_name, offline.answer, text=text, state=turn.state, context=context)
        return _draft_from_offline(result, context)

    use_llm = turn.provider is not None and await llm_allowed_async(schema_name=turn.schema_name)
    cacheable_turn = not turn.state.pending_order_number and (turn.is_first_question or not use_llm)

    computed: list[Draft] = []  # the draft this request made itself, if the cache let it compute

    async def compute() -> CachedAnswer | None:
        draft = await _compute(turn, context, streamer, now, use_llm)
        computed.append(draft)
        if not draft.cacheable or draft.handoff_reason or draft.low_confidence:
            return None
        return CachedAnswer(text=draft.text, sources=draft.sources, tool_calls=draft.tool_calls,
                            confidence=draft.confidence, mode=draft.mode, quick_replies=draft.quick_replies)

    if turn.content_version is None or not cacheable_turn or not settings.ASSISTANT_CACHE_ENABLED:
        return await _compute(turn, context, streamer, now, use_llm)
    cached, from_cache = await answer_cache_get_or_compute(schema_name=turn.schema_name, language=language,
                                                           question=text, version=turn.content_version,
                                                           compute=compute)
    if from_cache and cached is not None:
        await streamer.send_words(cached.text)
        return Draft(text=cached.text, mode="cache", sources=cached.sources, tool_calls=cached.tool_calls,
                     quick_replies=cached.quick_replies, confidence=cached.confidence)
    if computed:
        return computed[0]
    # Another request's answer could not be shared (it was personal): compute our own.
    draft = await _compute(turn, context, streamer, now, use_llm)
    return draft


def _handed_over_when_unsure_again(draft: Draft, turn: Turn) -> Draft:
    """A second answer in a row the data cannot give hands the conversation to a person."""
    if draft.low_confidence and turn.low_confidence_streak + 1 >= services.LOW_CONFIDENCE_HANDOFF_STREAK:
        draft.text = offline.phrase(turn.state.language, "unknown_handoff")
        draft.quick_replies = []
        draft.handoff_reason = "The assistant could not answer confidently twice in a row."
    return draft


async def _compute(turn: Turn, context: tools.TurnContext, streamer: _Streamer, now: datetime,
                   use_llm: bool) -> Draft:
    if use_llm and turn.provider is not None:
        try:
            return await _llm_answer_in_time(turn, context, streamer, now)
        except (LLMError, AnswerDeadlinePassed) as exc:
            logger.warning("LLM unavailable for tenant %s (%s); answering offline", turn.schema_name, exc.code)
            # Start the turn again from the data: what the model looked up is not reused.
            context.calls.clear()
            context.results.clear()
            context.sources.clear()
            context.handoff_reason = None
    result = await in_schema(turn.schema_name, offline.answer, text=turn.text, state=turn.state, context=context)
    draft = _handed_over_when_unsure_again(_draft_from_offline(result, context), turn)
    if not streamer.sent:
        await streamer.send_words(draft.text)
    return draft


def _away_note(language: str, now: datetime) -> str:
    note = offline.away_message(language=language, now=now)
    return f" {note}" if note else ""


# ----------------------------------------------------------------------------- LLM mode


# How long after an answer's deadline the engine stops waiting for anything of it (the model's calls
# stop at the deadline itself).
DEADLINE_BACKSTOP_SECONDS = 0.25


class AnswerDeadlinePassed(Exception):
    """The model's answer missed its deadline (ASSISTANT_FIRST_TEXT_DEADLINE_SECONDS, ASSISTANT_ANSWER_DEADLINE_SECONDS)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def _llm_answer_in_time(turn: Turn, context: tools.TurnContext, streamer: _Streamer, now: datetime) -> Draft:
    """The model's answer, within the answer's deadlines, counted from when the engine took the
    question: every model call, tool round and retry of the answer shares them. Past either, the
    model's calls are closed (so its later text is dropped, never sent after the fallback) and
    AnswerDeadlinePassed is raised for the caller to answer offline."""
    loop = asyncio.get_running_loop()
    answer_in = float(settings.ASSISTANT_ANSWER_DEADLINE_SECONDS) - (time.monotonic() - streamer.started)
    first_text_in = min(answer_in, float(settings.ASSISTANT_FIRST_TEXT_DEADLINE_SECONDS)
                        - (time.monotonic() - streamer.started))
    # The model's calls are given the same deadlines, so a provider that misses them fails as a slow
    # provider does (and counts against its circuit); this scope, a moment later, is the backstop
    # for everything else in the answer (tools, the fact check's second try).
    answer_at, first_text_at = loop.time() + answer_in, loop.time() + first_text_in
    streamer.answer_deadline = time.monotonic() + answer_in
    streamer.first_text_deadline = None if streamer.sent else time.monotonic() + first_text_in

    def first_text_sent() -> None:
        scope.reschedule(answer_at + DEADLINE_BACKSTOP_SECONDS)
        streamer.first_text_deadline = None

    try:
        async with asyncio.timeout_at((answer_at if streamer.sent else first_text_at)
                                      + DEADLINE_BACKSTOP_SECONDS) as scope:
            streamer.on_first_text = first_text_sent
            try:
                return await _llm_answer(turn, context, streamer, now)
            finally:
                streamer.on_first_text = None
                streamer.answer_deadline = streamer.first_text_deadline = None
    except TimeoutError as error:
        if not scope.expired():
            raise
        streamer.withholding = True
        raise AnswerDeadlinePassed("answer_deadline" if streamer.sent else "first_text_deadline") from error
    except LLMError:
        # Past a deadline the model's calls fail on their own, without sending any more of its text.
        streamer.withholding = True
        raise


async def _llm_answer(turn: Turn, context: tools.TurnContext, streamer: _Streamer, now: datetime) -> Draft:
    assert turn.provider is not None
    prompt = system_prompt(business_name=turn.state.business_name, tone=turn.profile_tone,
                           languages=turn.profile_languages, now=now.astimezone(_zone(turn)),
                           timezone_name=turn.timezone_name, human_only_topics=turn.state.human_only_topics)
    echo = InstructionEcho(prompt)
    messages: list[dict[str, Any]] = [{"role": "system", "content": prompt}, *turn.history,
                                      {"role": "user", "content": turn.text}]
    usage = {"tokens_in": 0, "tokens_out": 0, "cost_minor": 0, "model": turn.provider.chat_model}
    # Contact details and names are backed by the business's own profile and catalog too.
    business, business_base = await in_schema(turn.schema_name, business_facts_checked)
    screen = AnswerScreen(question=turn.text, language=turn.state.language,
                          business_words=" ".join(str(business.get(key) or "") for key in ("name", "tagline")))
    today = now.astimezone(_zone(turn)).date()

    def facts_now() -> FactSet:
        return supported_facts(context.results, business=business, base=business_base, today=today,
                               customer_texts=turn.customer_texts)

    answer_text = ""
    fallback_replies: list[str] = []
    fallback_unsure = False
    for _round in range(MAX_TOOL_ROUNDS):
        gate = SentenceGate(facts=facts_now(), screen=screen)
        round_text, calls = await _llm_round(turn, messages, gate, streamer, usage, echo=echo, with_tools=True,
                                             deadlines=(streamer.answer_deadline, streamer.first_text_deadline))
        if calls:
            messages.append({"role": "assistant", "content": round_text or None, "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments_json}}
                for call in calls]})
            for call in calls:
                if call.arguments_error:
                    result: dict[str, Any] = {"error": call.arguments_error}
                else:
                    result = await in_schema(turn.schema_name, tools.run_tool, call.name, call.arguments, context)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": tools.tool_result_json(result)})
            continue
        final = gate.finish()
        for piece in final.released:
            await streamer.send_model_text(piece, echo)
        # What the customer saw: the sentences the screen dropped (an echo, a repeat) are not part of it.
        answer_text = final.shown
        faults = _answer_faults(final, context)
        if not faults:
            break
        # Re-asked once, without streaming; then replaced by an answer built from the data.
        messages.append({"role": "assistant", "content": round_text})
        messages.append({"role": "user", "content": faults})
        retry_gate = SentenceGate(facts=facts_now(), screen=screen)
        retry_text, _ = await _llm_round(turn, messages, retry_gate, None, usage, echo=echo, with_tools=False,
                                         deadlines=(streamer.answer_deadline, streamer.first_text_deadline))
        retry_gate.feed(retry_text)
        retried = retry_gate.finish()
        if not _answer_faults(retried, context):
            answer_text = retried.shown
        else:
            logger.warning("tenant %s: the model's answer failed the checks twice (%s); answering from the data",
                           turn.schema_name, _fault_kinds(final))
            safe_context = tools.TurnContext(customer_texts=turn.customer_texts, now=now,
                                             conversation_id=turn.conversation_id)
            result_offline = await in_schema(turn.schema_name, offline.answer, text=turn.text, state=turn.state,
                                             context=safe_context)
            context.calls.extend(safe_context.calls)
            context.verified_order = context.verified_order or safe_context.verified_order
            context.sources.extend(s for s in safe_context.sources if s not in context.sources)
            answer_text = result_offline.text
            # The data's answer comes whole: its offer of a person too.
            fallback_replies = result_offline.quick_replies
            context.handoff_reason = context.handoff_reason or result_offline.handoff_reason
            fallback_unsure = result_offline.intent in LOW_CONFIDENCE_INTENTS
        break
    else:
        answer_text = answer_text or offline.phrase(turn.state.language, "unknown")
    if echo.found_in(answer_text):
        logger.warning("tenant %s: an answer repeating the system prompt was blocked", turn.schema_name)
        answer_text = offline.phrase(turn.state.language, "unknown")
    if not answer_text.strip():
        answer_text = offline.phrase(turn.state.language, "unknown")
    used = {call["name"] for call in context.calls}
    best = context.best_knowledge_score
    low_confidence = "knowledge_search" in used and not context.sources and not (used - {"knowledge_search"})
    draft = Draft(text=answer_text, mode="llm", sources=list(context.sources), tool_calls=list(context.calls),
                  quick_replies=fallback_replies,
                  confidence=best, low_confidence=low_confidence or fallback_unsure,
                  handoff_reason=context.handoff_reason,
                  model=str(usage["model"]), tokens_in=int(usage["tokens_in"]), tokens_out=int(usage["tokens_out"]),
                  cost_minor=int(usage["cost_minor"]), cacheable=bool(used) and used <= CACHEABLE_TOOLS)
    # The data's answer stands in for the model's whole: on a second "I don't know" in a row, so does its handoff.
    return _handed_over_when_unsure_again(draft, turn) if fallback_unsure else draft


# Fewer words than this left after the check is no answer: the data answers instead.
ANSWER_MIN_WORDS = 2


def _answer_faults(result: GateResult, context: tools.TurnContext) -> str:
    """Why a checked answer cannot be sent as it is, as feedback for the model; empty when it can:
    unsupported claims, a sentence the screen blocked, a looked-up part of the question left out, or
    too little left once echoes and repeats were dropped."""
    if result.check.unsupported:
        return result.check.feedback()
    if result.blocked:
        return screen_feedback(result.blocked)
    missing = parts_unanswered(result.shown, context.calls)
    if missing:
        return screen_feedback([Problem(kind=ProblemKind.PART_UNANSWERED, sentence=name) for name in missing])
    if len(re.findall(r"\w+", result.shown)) < ANSWER_MIN_WORDS:
        return "Answer the customer's question itself, from the tool results."
    return ""


def _fault_kinds(result: GateResult) -> str:
    kinds = {claim.kind.value for claim in result.check.unsupported} | {problem.kind.value for problem in result.problems}
    return ", ".join(sorted(kinds)) or "too little left"


def _zone(turn: Turn) -> Any:
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(turn.timezone_name)
    except Exception:
        return ZoneInfo("UTC")


async def _llm_round(turn: Turn, messages: list[dict[str, Any]], gate: SentenceGate, streamer: _Streamer | None,
                     usage: dict[str, Any], *, echo: InstructionEcho, with_tools: bool,
                     deadlines: tuple[float | None, float | None] = (None, None)) -> tuple[str, list[ToolCall]]:
    """One model call. `deadlines`: the answer's and its first text's (time.monotonic()), if any."""
    assert turn.provider is not None
    text = ""
    calls: list[ToolCall] = []
    stream = chat_stream(config=turn.provider, messages=messages, tools=tools.TOOL_SPECS if with_tools else None,
                         tenant_schema=turn.schema_name, deadline=deadlines[0], first_token_deadline=deadlines[1])
    async with aclosing(stream) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                text += event.text
                if streamer is not None and not calls:
                    for piece in gate.feed(event.text):
                        await streamer.send_model_text(piece, echo)
            elif isinstance(event, ToolCall):
                calls.append(event)
            elif isinstance(event, StreamFinished):
                usage["tokens_in"] += event.tokens_in
                usage["tokens_out"] += event.tokens_out
                usage["cost_minor"] += event.cost_minor
                usage["model"] = event.model or usage["model"]
    return text, calls


_WORDS = re.compile(r"\w+")
ECHO_WORDS = 8


class InstructionEcho:
    """Recognises an answer that repeats a sentence of the system prompt (8 words or more) word for
    word. The prompt's phrases are collected once per prompt (a tenant's prompt changes with the
    minute it states), not once per answer: the check runs on every streamed piece."""

    def __init__(self, prompt: str) -> None:
        self.phrases = _prompt_phrases(prompt)

    def found_in(self, answer: str) -> bool:
        words = _WORDS.findall(answer.lower())
        return any(" ".join(words[start:start + ECHO_WORDS]) in self.phrases
                   for start in range(len(words) - ECHO_WORDS + 1))


@functools.lru_cache(maxsize=1024)
def _prompt_phrases(prompt: str) -> frozenset[str]:
    phrases: set[str] = set()
    for sentence in re.split(r"(?<=[.:])\s+|\n", prompt):
        words = _WORDS.findall(sentence.lower())
        phrases.update(" ".join(words[start:start + ECHO_WORDS]) for start in range(len(words) - ECHO_WORDS + 1))
    return frozenset(phrases)
