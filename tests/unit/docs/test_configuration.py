"""docs/configuration.md is the settings schema, rendered: regenerate it and compare."""

from __future__ import annotations

from types import ModuleType

from shop.runtime.schema import variables
from tests.support.processes import ROOT, tool


def configdoc() -> ModuleType:
    return tool("configdoc")


def test_the_configuration_doc_is_the_schema_rendered() -> None:
    written = (ROOT / "docs" / "configuration.md").read_text()
    assert written == configdoc().render(), "docs/configuration.md is stale: `uv run task docs`"


def test_the_doc_lists_every_variable_every_service_reads() -> None:
    doc = configdoc()
    written = (ROOT / "docs" / "configuration.md").read_text()
    for name in doc.SCHEMAS:
        for variable in variables(doc.schema(name)):
            assert f"| `{variable.name}` |" in written, variable.name
    for name in ("OUTBOX_BATCH_SIZE", "BROKER_MAX_INFLIGHT", "K_CE_OVERRIDES", "ORDERS_URL"):
        assert f"| `{name}` |" in written


def test_every_declared_variable_has_a_doc_and_a_unique_meaning() -> None:
    doc = configdoc()
    seen: dict[str, str] = {}
    for name in doc.SCHEMAS:
        for variable in variables(doc.schema(name)):
            assert variable.doc, f"{variable.name} has no description"
            assert seen.setdefault(variable.name, variable.doc) == variable.doc, variable.name
