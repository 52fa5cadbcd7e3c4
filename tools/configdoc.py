"""Writes docs/configuration.md from the settings schema (shop.runtime.schema): every variable
each service reads, with its type, default and doc. `--check` fails when the file is stale.

    uv run task docs            # or: python tools/configdoc.py [--check]
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "configuration.md"
# Each service's settings, by import path (the runtime never imports a service).
SCHEMAS = {
    "gateway": "gateway.settings:GatewaySettings",
    "users": "functions.users.settings:UsersSettings",
    "products": "functions.products.settings:ProductsSettings",
    "orders": "functions.orders.settings:OrdersSettings",
    "notifications": "functions.notifications.settings:NotificationsSettings",
    "broker": "devtools.broker.app:BrokerSettings",
}
HEADER = """\
# Configuration

Generated from the settings schema by `uv run task docs` (tools/configdoc.py); do not edit.
A test fails when this file and the schema disagree.

Every variable is optional: unset or blank means the default. A value the service cannot use
stops it at start with an error naming the variable. `shop-serve` also reads `SHOP_SERVICE`
(which service to run; each image sets it), and tracing reads OpenTelemetry's standard `OTEL_*`
variables.
"""


def schema(name: str) -> type:
    module, attribute = SCHEMAS[name].split(":")
    found: type = getattr(importlib.import_module(module), attribute)
    return found


def render() -> str:
    from shop.runtime.schema import variables
    from shop.runtime.settings import Settings

    shared = {v.name for v in variables(Settings)}
    parts = [HEADER, _table("Every service", variables(Settings))]
    for name in SCHEMAS:
        own = [v for v in variables(schema(name)) if v.name not in shared]
        title = f"{name} (local tooling, never deployed)" if name == "broker" else name
        parts.append(_table(title, own))
    return "\n".join(parts)


def _table(title: str, rows: list) -> str:  # type: ignore[type-arg]
    lines = [f"## {title}", "", "| Variable | Type | Default | Description |", "|---|---|---|---|"]
    for v in rows:
        default = "(secret)" if v.secret and v.default != "(unset)" else v.default
        doc = v.doc.replace("|", "\\|")
        lines.append(f"| `{v.name}` | {v.kind} | `{default}` | {doc} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run `uv run task docs`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
