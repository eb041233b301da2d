"""A local OpenTelemetry collector: an HTTP server taking OTLP/HTTP trace exports (protobuf on
/v1/traces), decoded with opentelemetry-proto, so the product's real exporter runs in tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.local_http import LocalHttpServer, QuietHandler


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    attributes: dict[str, Any]


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class OtlpCollector(LocalHttpServer):
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.read_body()
                if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
                    self.reply(404)
                    return
                request = ExportTraceServiceRequest.FromString(body)
                received = []
                for resource_spans in request.resource_spans:
                    resource = {item.key: _value(item.value) for item in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            received.append(ReceivedSpan(
                                name=span.name, trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex(),
                                service=str(resource.get("deskpilot.process", "")),
                                attributes={item.key: _value(item.value) for item in span.attributes}))
                with collector.lock:
                    collector.spans.extend(received)
                self.reply(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

        super().__init__(Handler)

    def received(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)
