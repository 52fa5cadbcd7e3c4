"""The offline viewer of the merged OpenAPI document: one static HTML page, no script.

Every operation is a `<details>` element (open it to read parameters, body and answers), every
schema has an anchor its references link to, and the page loads nothing but the gateway's own
stylesheet (`/schema/openapi.css`), so it works without a network and under a CSP with
`script-src` closed. Everything taken from the document is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

Doc = dict[str, Any]
CONSTRAINTS = (
    ("format", "{}"),
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMinimum", "> {}"),
    ("minLength", "length ≥ {}"),
    ("maxLength", "length ≤ {}"),
    ("minItems", "≥ {} items"),
    ("maxItems", "≤ {} items"),
    ("pattern", "matches {}"),
    ("default", "default {}"),
)


def render(document: Doc) -> str:
    info = document["info"]
    by_tag: dict[str, list[str]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            tag = (operation.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation(path, method, operation, document))
    schemas = document.get("components", {}).get("schemas", {})
    nav = " · ".join(f'<a href="#tag-{escape(t)}">{escape(t)}</a>' for t in by_tag)
    sections = "".join(
        f'<section id="tag-{escape(tag)}"><h2>{escape(tag)}</h2>{"".join(ops)}</section>'
        for tag, ops in by_tag.items()
    )
    models = "".join(
        f'<section class="schema" id="schema-{escape(name)}"><h3>{escape(name)}</h3>'
        f"{_schema_block(schema)}</section>"
        for name, schema in schemas.items()
    )
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(info['title'])}</title>\n"
        '<link rel="stylesheet" href="/schema/openapi.css">\n</head>\n<body>\n'
        f"<header><h1>{escape(info['title'])} <small>{escape(info['version'])}</small></h1>\n"
        f"<p>{_text(info.get('description', ''))}</p>\n"
        '<p>The document: <a href="/schema/openapi.json">/schema/openapi.json</a> (OpenAPI '
        f"{escape(document['openapi'])}). Routes marked <span class=auth>token</span> need "
        "<code>Authorization: Bearer &lt;JWT&gt;</code>, from <code>POST /auth/token</code>.</p>\n"
        f'<nav aria-label="Sections">{nav} · <a href="#schemas">schemas</a></nav></header>\n'
        f'<main>{sections}<section id="schemas"><h2>Schemas</h2>{models}</section></main>\n'
        "</body>\n</html>\n"
    )


def _operation(path: str, method: str, operation: Doc, document: Doc) -> str:
    badge = ""
    if operation.get("security"):
        admin = "admin role" in operation.get("description", "")
        badge = f" <span class=auth>{'admin' if admin else 'token'}</span>"
    parts = [
        f'<details id="op-{escape(operation.get("operationId", ""))}"><summary>'
        f'<span class="method {method}">{method.upper()}</span> <code>{escape(path)}</code> '
        f"{escape(operation.get('summary', ''))}{badge}</summary>"
    ]
    if operation.get("description"):
        parts.append(f"<p>{_text(operation['description'])}</p>")
    parameters = operation.get("parameters", [])
    if parameters:
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code>{' *' * bool(p.get('required'))}</td>"
            f"<td>{escape(p['in'])}</td><td>{_type(p.get('schema', {}))}</td></tr>"
            for p in parameters
        )
        parts.append(
            "<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th></tr>"
            f"{rows}</table>"
        )
    body = operation.get("requestBody")
    if body:
        parts.append(f"<h4>Body</h4>{_content(body.get('content', {}))}")
    rows = ""
    for status, answer in operation.get("responses", {}).items():
        answer = _resolve(answer, document)
        rows += (
            f"<tr><td>{escape(status)}</td><td>{_text(answer.get('description', ''))}</td>"
            f"<td>{_content(answer.get('content', {}))}</td></tr>"
        )
    parts.append(f"<h4>Answers</h4><table>{rows}</table></details>")
    return "".join(parts)


def _resolve(node: Doc, document: Doc) -> Doc:
    ref = node.get("$ref")
    if not ref:
        return node
    found: Any = document
    for key in ref.removeprefix("#/").split("/"):
        found = found[key]
    return dict(found)


def _content(content: Doc) -> str:
    return "".join(
        f"<p><code>{escape(media)}</code>: {_schema_block(entry.get('schema', {}))}</p>"
        for media, entry in content.items()
    )


def _schema_block(schema: Doc) -> str:
    """A table of an object's fields, or the type of anything else."""
    properties = schema.get("properties")
    if not properties:
        return _type(schema)
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code>{' *' * (name in required)}</td>"
        f"<td>{_type(field)}</td></tr>"
        for name, field in properties.items()
    )
    closed = " No other fields." if schema.get("additionalProperties") is False else ""
    note = _text(schema.get("description", "")) + closed
    return f"<table><tr><th>field</th><th>type</th></tr>{rows}</table>{note}"


def _type(schema: Doc) -> str:
    if "$ref" in schema:
        name = escape(schema["$ref"].rsplit("/", 1)[-1])
        return f'<a href="#schema-{name}">{name}</a>'
    for key in ("oneOf", "anyOf"):
        if key in schema:
            kinds = " | ".join(_type(s) for s in schema[key])
            return kinds + _constraints(schema)
    if "const" in schema:
        return f"<code>{escape(str(schema['const']))}</code>"
    if "enum" in schema:
        return " | ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"])
    kind = schema.get("type", "any")
    kind = " | ".join(kind) if isinstance(kind, list) else kind
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}" + _constraints(schema)
    if schema.get("properties"):
        return _schema_block(schema)
    return escape(kind) + _constraints(schema)


def _constraints(schema: Doc) -> str:
    found = [template.format(schema[key]) for key, template in CONSTRAINTS if key in schema]
    return f" <small>({escape(', '.join(found))})</small>" if found else ""


def _text(text: str) -> str:
    """Escaped prose, with `code` spans kept as code."""
    pieces = escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))
