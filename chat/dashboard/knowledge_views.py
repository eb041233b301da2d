"""Knowledge pages: the sources and their indexing state, FAQ entries, imports, re-indexing, and the
questions the assistant could not answer, grouped so the owner can answer each group once.

Agents read; owners change. FAQ entries are indexed inside the request (a few short texts, well under a
second) so an owner can try the answer in the playground right away; files, web pages and re-indexing
go to the workers and show their progress.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

import numpy as np
from django import forms
from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from chat.conversations.models import Channel, Conversation, Message
from chat.dashboard.analytics import UNANSWERED_SQL, question_normalise
from chat.dashboard.permissions import agent_required, owner_required
from chat.knowledge import selectors as kb_selectors
from chat.knowledge import services as kb_services
from chat.knowledge.embeddings import LOCAL_CONFIG, embedding_provider
from chat.knowledge.exceptions import EmbeddingFailed
from chat.knowledge.models import KnowledgeSource
from config.errors import form_submit

logger = logging.getLogger(__name__)

SOURCES_SHOWN = 500
UNANSWERED_DAYS = 90
UNANSWERED_DISTINCT_QUESTIONS = 200
UNANSWERED_DISTINCT_TEXTS = 2000
# Two questions belong together when their embeddings are this close (cosine).
SAME_QUESTION_SIMILARITY = 0.8
_EMBEDDING_CACHE_SIZE = 5000


# ------------------------------------------------------------------------- unanswered questions


@dataclass
class UnansweredGroup:
    question: str  # the phrasing asked most often
    asked: int
    last_asked: datetime
    phrasings: list[str] = field(default_factory=list)  # the others, most asked first

    def faq_form_query(self) -> str:
        return urlencode({"question": self.question, "variants": "\n".join(self.phrasings)})


_embedding_cache: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
_embedding_cache_lock = threading.Lock()


def _embed_cached(texts: list[str]) -> np.ndarray:
    """Embeddings of the questions, remembered per schema and model: the page is opened again and again
    while the list of unanswered questions changes little, and embedding is the slow part of it."""
    provider = embedding_provider()
    schema = str(connection.schema_name)
    keys = [(schema, provider.model_id, text) for text in texts]
    with _embedding_cache_lock:
        found = {key: _embedding_cache[key] for key in keys if key in _embedding_cache}
    missing = [key for key in keys if key not in found]
    if missing:
        try:
            vectors = provider.embed([key[2] for key in missing])
        except EmbeddingFailed:
            # The questions are only compared with each other: any model groups them, and the page
            # must not fail with the business's embeddings endpoint.
            logger.warning("tenant %s: grouping unanswered questions with the local model (embeddings failed)",
                           schema)
            return embedding_provider(LOCAL_CONFIG).embed(texts)
        found.update(zip(missing, vectors, strict=True))
        with _embedding_cache_lock:
            _embedding_cache.update(zip(missing, vectors, strict=True))
            while len(_embedding_cache) > _EMBEDDING_CACHE_SIZE:
                _embedding_cache.popitem(last=False)
    return np.stack([found[key] for key in keys])


def _faq_phrasings() -> set[str]:
    """Every question and phrasing the FAQ already has, normalised: groups it covers are done."""
    covered: set[str] = set()
    for question, variants in KnowledgeSource.objects.filter(kind=KnowledgeSource.Kind.FAQ).values_list(
            "question", "variants"):
        covered.add(question_normalise(question))
        covered.update(question_normalise(str(variant)) for variant in variants or [])
    return covered


def unanswered_questions(*, since: datetime) -> list[UnansweredGroup]:
    """Customers' questions the assistant said it could not answer, grouped by meaning, most asked first.

    SQL counts identical questions (case aside); punctuation and spacing are folded per distinct
    text; only the distinct questions are embedded, then grouped greedily: each joins the first group
    whose leading question is at least SAME_QUESTION_SIMILARITY close, else it leads a group of its own.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT MIN(left(q.text, 300)), COUNT(*), MAX(q.created)
            FROM {Message._meta.db_table} m
            JOIN {Message._meta.db_table} q ON q.id = m.in_reply_to_id
            JOIN {Conversation._meta.db_table} c ON c.id = q.conversation_id
            WHERE {UNANSWERED_SQL} AND m.created >= %(since)s AND c.channel <> %(playground)s
            GROUP BY lower(left(q.text, 300))
            ORDER BY COUNT(*) DESC, MAX(q.created) DESC
            LIMIT %(limit)s""", {"threshold": float(settings.KB_ANSWER_THRESHOLD), "since": since,
                                  "playground": Channel.PLAYGROUND, "limit": UNANSWERED_DISTINCT_TEXTS})
        rows = cursor.fetchall()
    covered = _faq_phrasings()
    # Texts that differ only in punctuation or spacing are one question (merged per distinct text).
    merged: dict[str, tuple[str, int, datetime]] = {}
    for text, count, last in rows:
        key = question_normalise(text)
        if not key or key in covered:
            continue
        known = merged.get(key)
        merged[key] = (known[0], known[1] + int(count), max(known[2], last)) if known else (text, int(count), last)
    asked = sorted(merged.values(), key=lambda item: (-item[1], -item[2].timestamp()))[:UNANSWERED_DISTINCT_QUESTIONS]
    if not asked:
        return []
    vectors = _embed_cached([text for text, _count, _last in asked])
    groups: list[UnansweredGroup] = []
    leaders: list[np.ndarray] = []
    for (text, count, last), vector in zip(asked, vectors, strict=True):
        if leaders:
            similarities = np.stack(leaders) @ vector
            best = int(np.argmax(similarities))
            if similarities[best] >= SAME_QUESTION_SIMILARITY:
                group = groups[best]
                group.asked += count
                group.last_asked = max(group.last_asked, last)
                group.phrasings.append(text)
                continue
        groups.append(UnansweredGroup(question=text, asked=count, last_asked=last))
        leaders.append(vector)
    return sorted(groups, key=lambda group: (-group.asked, -group.last_asked.timestamp()))


# ------------------------------------------------------------------------------------------ forms


class FaqForm(forms.Form):
    question = forms.CharField(max_length=700, widget=forms.TextInput(attrs={"size": 80}))
    answer = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 80}))
    variants = forms.CharField(required=False, label="Other ways customers ask it (one per line)",
                               widget=forms.Textarea(attrs={"rows": 4, "cols": 80}))

    def variant_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["variants"].splitlines() if line.strip()]


class UploadForm(forms.Form):
    file = forms.FileField(label="File (FAQ CSV, Markdown, text, HTML, PDF or Word)")


class UrlForm(forms.Form):
    url = forms.URLField(label="Web page address", max_length=2000, assume_scheme="https")


def _source_or_404(source_id: int) -> KnowledgeSource:
    source = kb_selectors.source_get(source_id=source_id)
    if source is None:
        raise Http404("There is no such knowledge source.")
    return source


# ------------------------------------------------------------------------------------------ pages


def _list_page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    return render(request, "dashboard/knowledge/list.html", {
        "counts": kb_selectors.kb_status_counts(), "sources": kb_selectors.source_list_for_dashboard(limit=SOURCES_SHOWN),
        "running_jobs": kb_selectors.job_list_running(limit=5), "upload_form": UploadForm(), "url_form": UrlForm(),
        "message": request.GET.get("done", ""), "error": error,
    }, status=status)


@agent_required
def knowledge_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


def _faq_page(request: HttpRequest, form: FaqForm, source: KnowledgeSource | None, status: int = 200) -> HttpResponse:
    return render(request, "dashboard/knowledge/faq_form.html", {"form": form, "source": source}, status=status)


def _faq_submit(request: HttpRequest, *, replacing: KnowledgeSource | None) -> HttpResponse:
    """A posted FAQ form, new or replacing an entry: saved, or shown again with what is wrong."""
    form = FaqForm(request.POST)
    submitted = form_submit(form, lambda data: kb_services.faq_save(
        question=data["question"], answer=data["answer"], variants=form.variant_list(), replacing=replacing))
    if not submitted.accepted:
        return _faq_page(request, form, replacing, status=submitted.status)
    return redirect(reverse("dashboard:knowledge") + "?done=" + "FAQ entry saved")


@owner_required
def faq_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        # Prefilled from an unanswered-questions group: its question and the other phrasings.
        return _faq_page(request, FaqForm(initial={"question": request.GET.get("question", ""),
                                                    "variants": request.GET.get("variants", "")}), None)
    return _faq_submit(request, replacing=None)


@owner_required
def faq_edit(request: HttpRequest, source_id: int) -> HttpResponse:
    source = _source_or_404(source_id)
    if source.kind != KnowledgeSource.Kind.FAQ:
        raise Http404("Only FAQ entries are edited here.")
    if request.method != "POST":
        return _faq_page(request, FaqForm(initial={"question": source.question, "answer": source.answer,
                                                    "variants": "\n".join(source.variants or [])}), source)
    return _faq_submit(request, replacing=source)


@owner_required
@require_POST
def source_remove(request: HttpRequest, source_id: int) -> HttpResponse:
    kb_services.source_delete(source_id=_source_or_404(source_id).pk)
    return redirect(reverse("dashboard:knowledge") + "?done=" + "Source deleted")


@owner_required
@require_POST
def knowledge_upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _list_page(request, error="Choose a file to upload.", status=400)
    upload = form.cleaned_data["file"]
    if upload.size > settings.KB_MAX_FILE_BYTES:
        # Refused before a byte is read; the service refuses what it is given past the limit too.
        return _list_page(request, error=f"'{upload.name}' is larger than the "
                                         f"{settings.KB_MAX_FILE_BYTES / (1024 * 1024):g} MB limit.", status=400)
    submitted = form_submit(form, lambda data: kb_services.file_import_and_index(name=upload.name, data=upload.read()))
    if submitted.result is None:
        return _list_page(request, error=submitted.message, status=submitted.status)
    return redirect("dashboard:knowledge-job", job_id=submitted.result.pk)


@owner_required
@require_POST
def knowledge_url_import(request: HttpRequest) -> HttpResponse:
    form = UrlForm(request.POST)
    if not form.is_valid():
        return _list_page(request, error="Give a web page address starting with http:// or https://.", status=400)
    submitted = form_submit(form, lambda data: kb_services.url_import_and_index(url=data["url"]))
    if submitted.result is None:
        return _list_page(request, error=submitted.message, status=submitted.status)
    return redirect("dashboard:knowledge-job", job_id=submitted.result.pk)


@owner_required
@require_POST
def knowledge_reindex(request: HttpRequest) -> HttpResponse:
    job = kb_services.kb_reindex(background=True)
    return redirect("dashboard:knowledge-job", job_id=job.pk)


@agent_required
def knowledge_job(request: HttpRequest, job_id: int) -> HttpResponse:
    """A job's progress; htmx polls the fragment until the job finishes."""
    job = kb_selectors.job_get(job_id=job_id)
    if job is None:
        raise Http404("There is no such indexing job.")
    template = "dashboard/knowledge/_job.html" if request.headers.get("HX-Request") else "dashboard/knowledge/job.html"
    percent = round((job.done + job.failed) * 100 / job.total) if job.total else 100
    return render(request, template, {"job": job, "percent": percent,
                                      "failed_sources": kb_selectors.job_failed_sources(job=job, limit=50)})


@dataclass(frozen=True)
class UnfoundDiscovery:
    question: str
    asked: int
    last_asked: datetime
    filters: dict[str, object]


# A product search that found nothing, as the answer's stored tool calls record it.
_UNFOUND_SEARCH = '[{"name": "product_search", "result": {"found": false}}]'


def discovery_questions_unfound(*, since: datetime, limit: int = 50) -> list[UnfoundDiscovery]:
    """Customers' discovery questions ("something warm for winter") for which no product fitted,
    most asked first, with the filters the search read from them: a product or a synonym to add."""
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT MIN(left(q.text, 300)), COUNT(*), MAX(q.created),
                   (array_agg(m.tool_calls ORDER BY m.created DESC))[1]
            FROM {Message._meta.db_table} m
            JOIN {Message._meta.db_table} q ON q.id = m.in_reply_to_id
            JOIN {Conversation._meta.db_table} c ON c.id = q.conversation_id
            WHERE m.author = 'assistant' AND m.tool_calls @> %(unfound)s::jsonb AND m.created >= %(since)s
              AND c.channel <> %(playground)s
            GROUP BY lower(left(q.text, 300))
            ORDER BY COUNT(*) DESC, MAX(q.created) DESC
            LIMIT %(limit)s""", {"unfound": _UNFOUND_SEARCH, "since": since, "playground": Channel.PLAYGROUND,
                                  "limit": limit})
        rows = cursor.fetchall()
    found = []
    for text, count, last, calls in rows:
        calls = json.loads(calls) if isinstance(calls, str) else calls
        search = next((call for call in calls or [] if call.get("name") == "product_search"), {})
        found.append(UnfoundDiscovery(question=text, asked=int(count), last_asked=last,
                                      filters=dict((search.get("result") or {}).get("filters") or {})))
    return found


@agent_required
def knowledge_unanswered(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - timedelta(days=UNANSWERED_DAYS)
    return render(request, "dashboard/knowledge/unanswered.html", {
        "groups": unanswered_questions(since=since), "days": UNANSWERED_DAYS,
        "unfound": discovery_questions_unfound(since=since),
    })
