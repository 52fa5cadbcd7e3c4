"""The gateway's one OpenAPI document of the public API, generated from the functions' own apps.

`python -m devtools.openapi` builds each function's Litestar app (no I/O happens before its
lifespan), takes its OpenAPI schema, merges them (`devtools.openapi.merge`) and writes
`gateway/openapi.json` with its offline viewer `gateway/openapi.html`
(`devtools.openapi.page`). `--check` fails when either file is stale, and so does a unit test.
The gateway serves the files (gateway/schema.py) and never imports a function.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devtools.openapi.merge import Doc, merge
from devtools.openapi.page import render
from gateway.routing import load
from gateway.settings import GatewaySettings

GATEWAY_DIR = Path(__file__).resolve().parents[2] / "gateway"
DOCUMENT = GATEWAY_DIR / "openapi.json"
VIEWER = GATEWAY_DIR / "openapi.html"


def function_documents() -> dict[str, Doc]:
    """Each function's own OpenAPI document, from its app built on an empty environment."""
    from shop.runtime.catalog import FUNCTIONS, app_factory

    documents = {}
    with _empty_environ():
        for name in FUNCTIONS:
            documents[name] = app_factory(name)().openapi_schema.to_schema()
    return documents


def gateway_document() -> Doc:
    """The gateway's own public routes (`GET /registry`), from its handler alone."""
    from litestar import Litestar

    from gateway.admin import registry_handler

    def no_proxy() -> Any:
        raise RuntimeError("never called: the app only describes the route")

    app = Litestar([registry_handler(no_proxy)], logging_config=None)
    return app.openapi_schema.to_schema()


@contextmanager
def _empty_environ() -> Iterator[None]:
    """Build the apps on defaults, whatever this shell has set (the document must not vary)."""
    saved = dict(os.environ)
    os.environ.clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def generate() -> tuple[str, str]:
    """The document and its viewer page, as the files should read."""
    from importlib.metadata import version

    document = merge(
        function_documents(),
        load(GatewaySettings.from_environ({})),
        gateway_document(),
        version("shop"),
    )
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n", render(document)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    document, page = generate()
    stale = [f for f, text in ((DOCUMENT, document), (VIEWER, page)) if _read(f) != text]
    if args.check:
        for file in stale:
            print(f"{file.name} is stale: run `python -m devtools.openapi`", file=sys.stderr)
        return 1 if stale else 0
    DOCUMENT.write_text(document)
    VIEWER.write_text(page)
    return 0


def _read(file: Path) -> str | None:
    return file.read_text() if file.exists() else None
