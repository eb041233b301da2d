"""The OpenAI-compatible endpoint's side of the core path: which conversation a request continues,
and its last user message stored there by the core (`message_receive`), like any channel's.

Continuity (docs/api.md "OpenAI-compatible clients"): OpenAI's clients send the whole dialogue
every time, but the assistant keeps its own; only the last `user` message is new. The request's
`user` field names the business's customer (the id the customer side's tokens use, so both reach
the same contact); the `X-Conversation-Id` header continues one of that customer's API
conversations, and every response names its conversation in that header. Without the header, a new
conversation starts; without `user`, the conversation's customer is anonymous.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from chat.api.customer.services import CUSTOMER_ID, CUSTOMER_VISITOR_PREFIX, customer_contact_get_or_create
from chat.conversations.models import Channel, Conversation
from chat.conversations.services import ReceivedMessage, contact_get_or_create, conversation_start, message_receive
from config.errors import ApplicationError

MODEL_ID = "deskpilot-assistant"
ANONYMOUS_VISITOR_PREFIX = "api-anon:"

# What OpenAI's Chat Completions accepts and this assistant can honour or safely leave aside: the
# business's assistant decides its own length, temperature and tools. Anything else is refused, so
# a client relying on a feature we do not have is told so.
_IGNORED_FIELDS = frozenset({
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty",
    "seed", "stop", "metadata", "store", "service_tier", "parallel_tool_calls", "logit_bias", "user",
    "reasoning_effort", "safety_identifier", "prompt_cache_key",
})
_FIELDS = _IGNORED_FIELDS | {"model", "messages", "stream", "stream_options", "n", "logprobs", "top_logprobs"}
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


class CompletionRequestInvalid(ApplicationError):
    """A request OpenAI's API would refuse too; `param` names the field, as OpenAI's errors do."""

    code = "invalid_request"
    status = 400

    def __init__(self, message: str, *, param: str | None, code: str | None = None, status: int | None = None
                 ) -> None:
        super().__init__(message, code=code, status=status, details={"param": param})
        self.param = param


@dataclass(frozen=True)
class CompletionRequest:
    text: str
    stream: bool
    include_usage: bool
    customer_id: str | None


def _text_of(content: Any, index: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise CompletionRequestInvalid("Only text content parts are supported.",
                                               param=f"messages.[{index}].content")
            parts.append(part["text"])
        return "\n".join(parts)
    raise CompletionRequestInvalid("A message's content must be a string or a list of text parts.",
                                   param=f"messages.[{index}].content")


def completion_request_parse(*, body: Any) -> CompletionRequest:
    """A Chat Completions request, checked as strictly as OpenAI checks it."""
    if not isinstance(body, dict):
        raise CompletionRequestInvalid("The body must be a JSON object.", param=None)
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise CompletionRequestInvalid(f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0],
                                       code="unknown_parameter")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise CompletionRequestInvalid("You must provide a model parameter.", param="model")
    if model != MODEL_ID:
        raise CompletionRequestInvalid(f"The model `{model[:100]}` does not exist. This assistant is "
                                       f"`{MODEL_ID}`.", param="model", code="model_not_found", status=404)
    if body.get("n", 1) != 1:
        raise CompletionRequestInvalid("Only one choice (n=1) is supported.", param="n")
    if body.get("logprobs"):
        raise CompletionRequestInvalid("Log probabilities are not available.", param="logprobs")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise CompletionRequestInvalid("`messages` must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise CompletionRequestInvalid("Each message needs a role: system, developer, user, assistant or tool.",
                                           param=f"messages.[{index}].role")
    last = len(messages) - 1
    if messages[last]["role"] != "user":
        raise CompletionRequestInvalid("The last message must be the customer's (role `user`).",
                                       param=f"messages.[{last}].role")
    text = _text_of(messages[last].get("content"), last)
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise CompletionRequestInvalid("`stream` must be a boolean.", param="stream")
    options = body.get("stream_options")
    if options is not None and (not isinstance(options, dict) or set(options) - {"include_usage",
                                                                                 "include_obfuscation"}):
        raise CompletionRequestInvalid("`stream_options` may only hold `include_usage`.", param="stream_options")
    if options is not None and not stream:
        raise CompletionRequestInvalid("`stream_options` is only allowed when `stream` is true.",
                                       param="stream_options")
    user = body.get("user")
    if user is not None and (not isinstance(user, str) or not CUSTOMER_ID.fullmatch(user)):
        raise CompletionRequestInvalid("`user` is the business's id for its customer: 1 to 60 letters, digits or "
                                       ". _ : @ + -, starting with a letter or digit.", param="user")
    return CompletionRequest(text=text, stream=bool(stream), include_usage=bool((options or {}).get("include_usage")),
                             customer_id=user or None)


def _conversation_for(*, customer_id: str | None, conversation_id: str | None) -> Conversation:
    if conversation_id is None:
        contact = (customer_contact_get_or_create(customer_id=customer_id) if customer_id is not None else
                   contact_get_or_create(visitor_id=f"{ANONYMOUS_VISITOR_PREFIX}{uuid.uuid4().hex}"))
        return conversation_start(contact=contact, channel=Channel.API)
    if not conversation_id.isascii() or not conversation_id.isdigit() or len(conversation_id) > 18:
        raise CompletionRequestInvalid("X-Conversation-Id is a conversation's number.", param="X-Conversation-Id")
    conversations = Conversation.objects.filter(pk=int(conversation_id), channel=Channel.API)
    if customer_id is not None:
        conversations = conversations.filter(contact__visitor_id=CUSTOMER_VISITOR_PREFIX + customer_id)
    else:
        conversations = conversations.filter(contact__visitor_id__startswith=ANONYMOUS_VISITOR_PREFIX)
    conversation = conversations.first()
    if conversation is None:
        raise CompletionRequestInvalid("No such conversation for this user.", param="X-Conversation-Id",
                                       code="conversation_not_found", status=404)
    return conversation


@dataclass(frozen=True)
class CompletionMessage:
    conversation_id: int
    received: ReceivedMessage


def completion_message_receive(*, request: CompletionRequest, conversation_id: str | None) -> CompletionMessage:
    """The request's last user message, stored in the conversation it continues or starts."""
    with transaction.atomic():
        conversation = _conversation_for(customer_id=request.customer_id, conversation_id=conversation_id)
        received = message_receive(conversation=conversation, text=request.text)
    return CompletionMessage(conversation_id=conversation.pk, received=received)
