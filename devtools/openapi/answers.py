"""What the merged OpenAPI document states that no function's own app does: the problem+json
answers of the shared runtime and of the gateway, and the operations routes (health, readiness,
metrics). Each mirrors the code it names."""

from __future__ import annotations

from typing import Any

from gateway.routing import RouteTable

PROBLEM = "application/problem+json"
_STRING = {"type": "string"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details (shop.runtime.problems).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "examples": ["urn:shop:problem:invalid"]},
        "title": _STRING,
        "status": {"type": "integer"},
        "detail": _STRING,
        "errors": {
            "type": "array",
            "description": "Every invalid field (422 only).",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": _STRING, "message": _STRING},
            },
        },
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


PROBLEM_RESPONSES: dict[str, Any] = {
    "Malformed": _problem(
        "Malformed JSON, or a path the gateway refuses (`//`, dot segments, encoded slashes)."
    ),
    "Unauthenticated": _problem("No valid bearer token (with `WWW-Authenticate: Bearer`)."),
    "Forbidden": _problem("The token's role may not do this."),
    "NotFound": _problem("No such resource, or another user's."),
    "TooLarge": _problem("The body is larger than MAX_BODY_BYTES."),
    "Invalid": _problem("The request did not validate; `errors` lists every invalid field."),
    "RateLimited": _problem("Over the rate limit (with `Retry-After`)."),
    "UnsupportedMediaType": _problem("The body is not JSON (`Content-Type`)."),
    "Unavailable": _problem(
        "No instance can take the request now: none registered and no fallback, or every "
        "instance's circuit breaker open (with `Retry-After`)."
    ),
    "GatewayTimeout": _problem("The upstream instance timed out (with `Retry-After`)."),
}


def errors_for(
    operation: dict[str, Any], policy: str, *, rate_limited: bool, proxied: bool
) -> dict[str, Any]:
    """The problem answers an operation can get from the runtime and, if proxied, the gateway."""
    places = {p.get("in") for p in operation.get("parameters", [])}
    has_body = "requestBody" in operation
    answers = {
        "400": (has_body or proxied) and "Malformed",
        "401": policy != "public" and "Unauthenticated",
        "403": policy == "admin" and "Forbidden",
        "404": "path" in places and "NotFound",
        "413": has_body and "TooLarge",
        "415": has_body and "UnsupportedMediaType",
        "422": (has_body or bool(places)) and "Invalid",
        "429": rate_limited and "RateLimited",
        "503": proxied and "Unavailable",
        "504": proxied and "GatewayTimeout",
    }
    return {
        status: {"$ref": f"#/components/responses/{name}"}
        for status, name in answers.items()
        if name
    }


def _health(operation_id: str, summary: str) -> dict[str, Any]:
    healthy = {
        "type": "object",
        "required": ["status", "service", "instance_id", "timestamp"],
        "properties": {
            "status": {"const": "healthy"},
            "service": _STRING,
            "instance_id": _STRING,
            "timestamp": {"type": "string", "format": "date-time"},
        },
    }
    unhealthy = {
        "type": "object",
        "required": ["status", "error"],
        "properties": {"status": {"const": "unhealthy"}, "error": _STRING},
    }
    return {
        "summary": summary,
        "operationId": operation_id,
        "responses": {
            "200": {"description": "Live", "content": {"application/json": {"schema": healthy}}},
            "503": {
                "description": "Not live",
                "content": {"application/json": {"schema": unhealthy}},
            },
        },
    }


def operations(table: RouteTable) -> dict[str, Any]:
    """`/health`, `/ready`, `/metrics` (the gateway's own) and `/<service>/health` (the picked
    instance's `/health`, so repeated calls show the balancing), for every routed service."""
    ready = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": ["ready", "not ready"]}},
    }
    paths: dict[str, Any] = {
        "/health": {"get": _health("GatewayHealth", "The gateway's liveness")},
        "/ready": {
            "get": {
                "summary": "The gateway's readiness (503 from the moment shutdown begins)",
                "operationId": "GatewayReady",
                "responses": {
                    status: {
                        "description": text,
                        "content": {"application/json": {"schema": ready}},
                    }
                    for status, text in (("200", "Ready"), ("503", "Not ready"))
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "The gateway's Prometheus metrics",
                "operationId": "GatewayMetrics",
                "responses": {
                    "200": {
                        "description": "The Prometheus text format",
                        "content": {"text/plain": {"schema": _STRING}},
                    }
                },
            }
        },
    }
    for name in table.services:
        summary = f"The liveness of the {name} instance the gateway picked"
        paths[f"/{name}/health"] = {"get": _health(f"{name.capitalize()}Health", summary)}
    return paths
