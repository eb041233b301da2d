"""Knowledge: sources created from text, a file or a web page (indexed by the workers), listed with
their status, deleted; and search, as the assistant searches. Scope: `knowledge`."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from chat.api.business.conversations import PAGE_PARAMS
from chat.api.conventions import ApiView, StrictSerializer, query_params_check
from chat.api.models import Scope
from chat.knowledge import selectors as knowledge_selectors
from chat.knowledge import services as knowledge_services
from chat.knowledge.exceptions import SourceNotFound
from chat.knowledge.models import IndexingJob, KnowledgeSource

# A multipart body carries the file and a little framing around it.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class SourceOut(serializers.ModelSerializer):
    format = serializers.CharField(source="document_format")

    class Meta:
        model = KnowledgeSource
        fields = ["id", "kind", "title", "status", "error", "url", "filename", "format", "created", "updated",
                  "indexed"]


class JobOut(serializers.ModelSerializer):
    class Meta:
        model = IndexingJob
        fields = ["id", "status", "total", "done", "failed", "created", "finished"]


class ImportOut(serializers.Serializer):
    job = JobOut()
    sources = SourceOut(many=True)


class TextSourceIn(StrictSerializer):
    title = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    text = serializers.CharField(max_length=settings.API_MAX_BODY_BYTES)
    format = serializers.ChoiceField(choices=["markdown", "text", "html"], default="markdown")


class UrlSourceIn(StrictSerializer):
    url = serializers.URLField(max_length=2000)


class FileSourceIn(StrictSerializer):
    file = serializers.FileField(allow_empty_file=False, max_length=500)


class SourceFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=KnowledgeSource.Status.choices, required=False)
    kind = serializers.ChoiceField(choices=KnowledgeSource.Kind.choices, required=False)


class SearchQuery(serializers.Serializer):
    q = serializers.CharField(max_length=500, help_text="What a customer would ask.")
    limit = serializers.IntegerField(min_value=1, max_value=20, default=5)


class SearchResultOut(serializers.Serializer):
    source_id = serializers.IntegerField()
    title = serializers.CharField()
    kind = serializers.CharField()
    snippet = serializers.CharField()
    url = serializers.CharField(allow_blank=True)
    heading = serializers.CharField(allow_blank=True)
    score = serializers.FloatField(help_text="Confidence from 0 to 1.")


class SearchOut(serializers.Serializer):
    data = SearchResultOut(many=True)


def _import_answer(job: IndexingJob) -> Response:
    sources = list(job.sources.order_by("id"))
    return Response(ImportOut({"job": job, "sources": sources}).data, status=201)


class SourceListApi(ApiView):
    api_scope = str(Scope.KNOWLEDGE)
    serializer_class = SourceOut

    @extend_schema(parameters=[SourceFilters], responses=SourceOut(many=True), summary="List knowledge sources")
    def get(self, request: Request) -> Response:
        query_params_check(request, allowed=PAGE_PARAMS | {"status", "kind"})
        filters = SourceFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(knowledge_selectors.source_list(**filters.validated_data))
        return self.get_paginated_response(SourceOut(page, many=True).data)


class TextSourceApi(ApiView):
    api_scope = str(Scope.KNOWLEDGE)

    @extend_schema(request=TextSourceIn, responses={201: ImportOut}, summary="Add a page of text")
    def post(self, request: Request) -> Response:
        data = TextSourceIn(data=request.data)
        data.is_valid(raise_exception=True)
        return _import_answer(knowledge_services.page_import_and_index(
            title=data.validated_data["title"], text=data.validated_data["text"],
            document_format=data.validated_data["format"]))


class UrlSourceApi(ApiView):
    api_scope = str(Scope.KNOWLEDGE)

    @extend_schema(request=UrlSourceIn, responses={201: ImportOut}, summary="Add a web page (fetched when indexed)")
    def post(self, request: Request) -> Response:
        data = UrlSourceIn(data=request.data)
        data.is_valid(raise_exception=True)
        return _import_answer(knowledge_services.url_import_and_index(url=data.validated_data["url"]))


class FileSourceApi(ApiView):
    api_scope = str(Scope.KNOWLEDGE)
    parser_classes = [MultiPartParser]
    max_body_bytes = settings.KB_MAX_FILE_BYTES + MULTIPART_OVERHEAD_BYTES

    @extend_schema(request={"multipart/form-data": FileSourceIn}, responses={201: ImportOut},
                   summary="Upload a file: an FAQ CSV, PDF, DOCX, HTML, Markdown or text")
    def post(self, request: Request) -> Response:
        data = FileSourceIn(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        return _import_answer(knowledge_services.file_import_and_index(name=upload.name, data=upload.read()))


class SourceApi(ApiView):
    api_scope = str(Scope.KNOWLEDGE)
    serializer_class = SourceOut

    @extend_schema(summary="Read a knowledge source and its status")
    def get(self, request: Request, source_id: int) -> Response:
        source = knowledge_selectors.source_get(source_id=source_id)
        if source is None:
            raise SourceNotFound("There is no such knowledge source.")
        return Response(SourceOut(source).data)

    @extend_schema(responses={204: None}, summary="Delete a knowledge source")
    def delete(self, request: Request, source_id: int) -> Response:
        knowledge_services.source_delete(source_id=source_id)
        return Response(status=204)


class SearchApi(ApiView):
    api_scope = str(Scope.KNOWLEDGE)

    @extend_schema(parameters=[SearchQuery], responses=SearchOut, summary="Search the knowledge as the assistant does")
    def get(self, request: Request) -> Response:
        query_params_check(request, allowed={"q", "limit"})
        query = SearchQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        results = knowledge_selectors.kb_search(query=query.validated_data["q"], k=query.validated_data["limit"])
        return Response(SearchOut({"data": results}).data)
