"""The start-up shortcuts `shop.runtime.service` takes past Litestar, each pinned:
these fail when the library changes what the shortcut relies on, or when the shortcut is no
longer needed. Each case runs in a fresh interpreter (module imports are what is measured)."""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import run_python

ROOT = Path(__file__).resolve().parents[4]
OPTIONAL = ("litestar.plugins.attrs", "litestar.plugins.pydantic", "litestar.plugins.opentelemetry")

PLUGINS = """
import json, sys
from litestar import Litestar
from shop.runtime.service import ServiceApp
ours = ServiceApp()
skipped = sorted(m for m in %(optional)r if m in sys.modules)
theirs = Litestar()
print(json.dumps({
    "ours": sorted(type(p).__name__ for p in ours.plugins),
    "theirs": sorted(type(p).__name__ for p in theirs.plugins),
    "skipped": skipped,
    "imported_by_litestar": sorted(m for m in %(optional)r if m in sys.modules),
}))
"""


def test_a_service_app_skips_only_litestars_optional_plugins_and_their_imports() -> None:
    found = run_python(PLUGINS % {"optional": OPTIONAL})

    assert found["skipped"] == []  # attrs, pydantic and OTel plugins are never imported
    # Still needed: a plain Litestar app imports them (attrs comes with aiohttp, OTel is
    # installed for tracing). When this fails, Litestar stopped doing so: drop the override.
    assert "litestar.plugins.attrs" in found["imported_by_litestar"]  # type: ignore[operator]
    assert "litestar.plugins.opentelemetry" in found["imported_by_litestar"]  # type: ignore[operator]
    # The override returns Litestar's defaults minus the optional ones, nothing else: a new
    # core default plugin in Litestar would show up here.
    optional = {"AttrsSchemaPlugin", "PydanticPlugin", "PydanticInitPlugin", "PydanticDIPlugin"}
    optional |= {"PydanticSchemaPlugin", "OpenTelemetryPlugin"}
    theirs = [name for name in found["theirs"] if name not in optional]  # type: ignore[attr-defined]
    assert found["ours"] == theirs


def test_the_service_app_overrides_name_hooks_litestar_still_calls() -> None:
    import inspect

    from litestar import Litestar

    source = inspect.getsource(Litestar.__init__)
    assert "self._get_default_plugins(" in source
    assert "self._patch_opentelemetry_middleware" in source
