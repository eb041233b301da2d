"""Knowledge pages, the playground and unanswered questions, through the in-process client."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from chat.conversations.models import Author, Channel, Contact, Conversation, Message
from chat.knowledge.models import KnowledgeSource
from tests.dashboard.conftest import Business

RETURNS_ANSWER = "You can return anything within 30 days for a full refund, with the receipt."


@pytest.fixture(autouse=True)
def _offline(settings: Any) -> None:
    """The offline assistant and the local embeddings: no provider, answers from the knowledge base."""
    settings.OPENAI_API_KEY = ""
    settings.KB_EMBEDDING_PROVIDER = "local"
    settings.ASSISTANT_CACHE_ENABLED = False


def test_owner_adds_an_faq_and_the_playground_cites_it(business: Business) -> None:
    owner = business.client(business.owner)

    saved = owner.post("/app/knowledge/faq/new/", {
        "question": "What is your return policy?", "answer": RETURNS_ANSWER,
        "variants": "Can I return something?\nHow do refunds work?"})
    assert saved.status_code == 302

    listing = owner.get("/app/knowledge/")
    assert listing.status_code == 200
    assert "What is your return policy?" in listing.content.decode()
    assert "1 ready" in listing.content.decode()

    asked = owner.post("/app/playground/", {"question": "can i return my shoes?"})
    page = asked.content.decode()
    assert asked.status_code == 200
    assert "30 days for a full refund" in page
    assert "Sources cited" in page and "What is your return policy?" in page
    assert "Confidence" in page and "at or above" in page
    with schema_context(business.tenant.schema_name):
        conversation = Conversation.objects.get(channel=Channel.PLAYGROUND)
        answer = Message.objects.get(conversation=conversation, author=Author.ASSISTANT)
        assert answer.sources[0]["title"] == "What is your return policy?"


def test_playground_says_when_it_does_not_know(business: Business) -> None:
    answer = business.client(business.owner).post("/app/playground/", {"question": "Do you sell gift cards?"},
                                                  HTTP_HX_REQUEST="true")
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "<html" not in page  # the htmx fragment only
    assert "rather not guess" in page and "below the" in page  # an honest "I don't know", not a guess


def test_agents_read_knowledge_but_cannot_change_it(business: Business) -> None:
    agent = business.client(business.agent)
    assert agent.get("/app/knowledge/").status_code == 200
    assert agent.get("/app/knowledge/unanswered/").status_code == 200
    assert agent.get("/app/playground/").status_code == 200
    assert agent.get("/app/knowledge/faq/new/").status_code == 403
    refused = agent.post("/app/knowledge/faq/new/", {"question": "Q?", "answer": "A."})
    assert refused.status_code == 403
    with schema_context(business.tenant.schema_name):
        assert not KnowledgeSource.objects.exists()
    assert business.client().get("/app/knowledge/").status_code == 302  # not logged in: to the login page


def _unanswered(schema_name: str, questions: list[str]) -> None:
    """Customers asked; the assistant answered that it did not know (low confidence, nothing cited)."""
    with schema_context(schema_name):
        for index, question in enumerate(questions):
            contact = Contact.objects.create(visitor_id=f"visitor-{index}-{timezone.now().timestamp()}")
            conversation = Conversation.objects.create(contact=contact, channel=Channel.WIDGET)
            asked = Message.objects.create(conversation=conversation, author=Author.CUSTOMER, text=question,
                                           answer_state="answered")
            Message.objects.create(conversation=conversation, author=Author.ASSISTANT, in_reply_to=asked,
                                   text="I'm not sure about that one.", confidence=0.1, sources=[], mode="offline")


def test_unanswered_questions_are_grouped_and_become_an_faq(business: Business) -> None:
    _unanswered(business.tenant.schema_name, [
        "Do you sell gift cards?", "do you sell gift cards", "Do you have gift cards", "Gift cards available?",
        "Do you sell gift cards or vouchers?", "Where can I park my car?",
    ])
    owner = business.client(business.owner)

    page = owner.get("/app/knowledge/unanswered/")
    body = page.content.decode()
    assert page.status_code == 200
    groups = page.context["groups"]
    gift = next(group for group in groups if "gift" in group.question.lower())
    assert gift.asked == 5  # the two identical questions and three paraphrases
    assert len(gift.phrasings) == 3
    assert all("park" not in text.lower() for text in gift.phrasings)
    assert any("park" in group.question.lower() for group in groups)
    assert "Answer as an FAQ" in body

    prefill = owner.get(f"/app/knowledge/faq/new/?{gift.faq_form_query()}")
    form = prefill.context["form"]
    assert form.initial["question"] == gift.question
    prefilled_variants = parse_qs(urlsplit(f"?{gift.faq_form_query()}").query)["variants"][0]
    assert form.initial["variants"] == prefilled_variants

    saved = owner.post("/app/knowledge/faq/new/", {
        "question": gift.question, "answer": "Yes: gift cards from 10 to 100 euros, in the shop and online.",
        "variants": "\n".join(gift.phrasings)})
    assert saved.status_code == 302

    after = owner.get("/app/knowledge/unanswered/").context["groups"]
    assert not any("gift" in group.question.lower() for group in after)
    assert any("park" in group.question.lower() for group in after)
    with schema_context(business.tenant.schema_name):
        assert KnowledgeSource.objects.get(kind="faq").status == KnowledgeSource.Status.READY


def test_faq_edit_replaces_the_entry_and_bad_input_is_refused(business: Business) -> None:
    owner = business.client(business.owner)
    owner.post("/app/knowledge/faq/new/", {"question": "Do you deliver?", "answer": "Yes, in the city."})
    with schema_context(business.tenant.schema_name):
        source = KnowledgeSource.objects.get()
    edited = owner.post(f"/app/knowledge/faq/{source.pk}/", {"question": "Do you deliver at home?",
                                                            "answer": "Yes, anywhere in the city.", "variants": ""})
    assert edited.status_code == 302
    with schema_context(business.tenant.schema_name):
        assert list(KnowledgeSource.objects.values_list("question", flat=True)) == ["Do you deliver at home?"]
    refused = owner.post("/app/knowledge/faq/new/", {"question": "", "answer": ""})
    assert refused.status_code == 400
    bad_upload = owner.post("/app/knowledge/upload/", {"file": _file("notes.exe", b"MZ\x00binary")})
    assert bad_upload.status_code == 400
    assert "error" in bad_upload.content.decode()


def _file(name: str, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_upload_starts_a_job_whose_progress_is_shown(business: Business) -> None:
    owner = business.client(business.owner)
    uploaded = owner.post("/app/knowledge/upload/", {"file": _file("shipping.md", b"# Shipping\n\nWe ship in 2 days.")})
    assert uploaded.status_code == 302
    progress = owner.get(uploaded["Location"], HTTP_HX_REQUEST="true")
    assert progress.status_code == 200
    assert "of 1" in progress.content.decode()
    assert 'hx-trigger="every 2s"' in progress.content.decode()  # still running: the fragment polls


def test_unanswered_questions_are_grouped_even_when_the_embeddings_endpoint_fails(business: Business,
                                                                                 settings: Any) -> None:
    from tests.support.fake_openai import FakeOpenAIServer

    _unanswered(business.tenant.schema_name, ["Do you sell gift cards?", "Do you have gift cards",
                                              "Where can I park my car?"])
    with FakeOpenAIServer(embeddings_status=500) as broken:
        settings.KB_EMBEDDING_PROVIDER = "auto"
        settings.EMBEDDING_API_KEY = "sk-embeddings"
        settings.EMBEDDING_BASE_URL = broken.base_url

        page = business.client(business.owner).get("/app/knowledge/unanswered/")

    assert page.status_code == 200
    gift = next(group for group in page.context["groups"] if "gift" in group.question.lower())
    assert gift.asked == 2
    assert [request.path for request in broken.requests] == ["/v1/embeddings"]
