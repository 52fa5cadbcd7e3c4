"""An in-test OTLP/HTTP trace receiver: decodes the protobuf export requests into spans."""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.recorder import Recorder, Reply

KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, str]


class OtlpReceiver(Recorder):
    def __init__(self) -> None:
        super().__init__(
            respond=lambda _: Reply(200, b"", {"content-type": "application/x-protobuf"})
        )

    def spans(self) -> list[Span]:
        found = []
        for request in self.on("/v1/traces"):
            body = request.body
            if request.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            export = ExportTraceServiceRequest()
            export.ParseFromString(body)
            for resource in export.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource.resource.attributes}
                service = attributes.get("service.name", "?")
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        found.append(
                            Span(
                                service=service,
                                name=span.name,
                                kind=KINDS.get(span.kind, str(span.kind)),
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_id=span.parent_span_id.hex(),
                                attributes={
                                    a.key: a.value.string_value or str(a.value.int_value)
                                    for a in span.attributes
                                },
                            )
                        )
        return found

    def wait_for_span(self, service: str, name: str, timeout: float = 20.0) -> Span:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for span in self.spans():
                if span.service == service and span.name == name:
                    return span
            time.sleep(0.05)
        seen = sorted({(s.service, s.name) for s in self.spans()})
        raise TimeoutError(f"no span {service}/{name}; seen: {seen}")
