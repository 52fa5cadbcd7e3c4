"""The merged OpenAPI document: generated from the functions' own apps, never stale, with each
route's auth policy as the gateway applies it and clashing schemas kept apart."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.openapi import DOCUMENT, VIEWER, generate
from devtools.openapi.merge import merge
from devtools.openapi.page import render
from gateway.routing import RouteTable, load
from gateway.settings import GatewaySettings


@pytest.fixture(scope="module")
def table() -> RouteTable:
    return load(GatewaySettings.from_environ({}))


@pytest.fixture(scope="module")
def generated() -> tuple[str, str]:
    return generate()


def money(amount_type: str) -> dict[str, Any]:
    return {"type": "object", "properties": {"amount": {"type": amount_type}}}


def function_doc(path: str, schemas: dict[str, Any], body: str) -> dict[str, Any]:
    operation = {
        "operationId": path.strip("/").title(),
        "requestBody": {
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}
        },
        "responses": {"200": {"description": "ok"}, "400": {"description": "Litestar's"}},
    }
    return {"paths": {path: {"post": operation}}, "components": {"schemas": schemas}}


def test_the_committed_document_and_viewer_are_what_the_functions_apps_generate(
    generated: tuple[str, str],
) -> None:
    document, page = generated
    assert DOCUMENT.read_text() == document, "stale: run `python -m devtools.openapi`"
    assert VIEWER.read_text() == page, "stale: run `python -m devtools.openapi`"


def test_each_operation_carries_the_auth_policy_of_its_gateway_route(
    generated: tuple[str, str],
) -> None:
    import json

    paths = json.loads(generated[0])["paths"]
    assert "security" not in paths["/products"]["get"]
    assert "403" not in paths["/products"]["get"]["responses"]
    assert paths["/products"]["post"]["security"] == [{"bearer": []}]
    assert "403" in paths["/products"]["post"]["responses"]
    # the function's own document leaves this open; the gateway asks for a token
    assert paths["/notifications"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in paths["/users"]["post"]
    assert paths["/users/me"]["get"]["security"] == [{"bearer": []}]
    assert "401" not in paths["/auth/token"]["post"]["responses"]


def test_litestars_generic_400_becomes_the_problem_answer(table: RouteTable) -> None:
    documents = {"orders": function_doc("/orders", {"OrderIn": money("integer")}, "OrderIn")}
    merged = merge(documents, table, {}, "1")
    answers = merged["paths"]["/orders"]["post"]["responses"]
    assert answers["400"] == {"$ref": "#/components/responses/Malformed"}
    assert answers["422"] == {"$ref": "#/components/responses/Invalid"}
    assert answers["401"] == {"$ref": "#/components/responses/Unauthenticated"}
    malformed = merged["components"]["responses"]["Malformed"]
    assert set(malformed["content"]) == {"application/problem+json"}


def test_a_schema_two_functions_define_alike_is_kept_once(table: RouteTable) -> None:
    documents = {
        "products": function_doc("/products", {"Money": money("integer")}, "Money"),
        "orders": function_doc("/orders", {"Money": money("integer")}, "Money"),
    }
    schemas = merge(documents, table, {}, "1")["components"]["schemas"]
    assert set(schemas) == {"Problem", "Money"}


def test_a_schema_two_functions_define_differently_is_renamed_with_its_references(
    table: RouteTable,
) -> None:
    order_in = {"type": "object", "properties": {"total": {"$ref": "#/components/schemas/Money"}}}
    documents = {
        "products": function_doc("/products", {"Money": money("integer")}, "Money"),
        "orders": function_doc(
            "/orders", {"Money": money("string"), "OrderIn": order_in}, "OrderIn"
        ),
    }
    merged = merge(documents, table, {}, "1")
    schemas = merged["components"]["schemas"]
    assert schemas["Money"] == money("integer")
    assert schemas["OrdersMoney"] == money("string")
    assert schemas["OrderIn"]["properties"]["total"] == {"$ref": "#/components/schemas/OrdersMoney"}
    body = merged["paths"]["/products"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Money"}


def test_a_path_the_gateway_does_not_route_to_its_function_fails_the_generation(
    table: RouteTable,
) -> None:
    documents = {"orders": function_doc("/products", {"X": money("integer")}, "X")}
    with pytest.raises(ValueError, match="does not route"):
        merge(documents, table, {}, "1")


def test_the_viewer_escapes_what_the_document_says(table: RouteTable) -> None:
    documents = {"orders": function_doc("/orders", {"X": money("integer")}, "X")}
    merged = merge(documents, table, {}, "1")
    merged["paths"]["/orders"]["post"]["summary"] = "<script>alert(1)</script>"
    page = render(merged)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
