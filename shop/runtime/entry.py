"""`shop-serve`: run one service in the foreground, as its container image does.

The laptop's `shop` command (devtools.cli) calls the same `serve`. Kept light: heavy modules are
imported after the garbage collector is paused, so a service starts as fast as it allows.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name",
        nargs="?",
        default=os.environ.get("SHOP_SERVICE"),
        help="gateway, users, products, orders or notifications (default: $SHOP_SERVICE,"
        " which each container image sets)",
    )
    parser.add_argument("--port", type=int, help="overrides $PORT (default 8080)")
    parser.add_argument("--host", help="overrides $HOST (default 0.0.0.0)")


def main(argv: Sequence[str] | None = None) -> int:
    gc.disable()  # start-up allocates much and frees little; the server re-enables it once up
    parser = argparse.ArgumentParser(prog="shop-serve", description=__doc__)
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    if not args.name:
        parser.error("name a service, or set SHOP_SERVICE")
    return serve(args.name, port=args.port, host=args.host)


def serve(
    name: str,
    *,
    port: int | None = None,
    host: str | None = None,
    app_path: str | None = None,
    shared_fd: int | None = None,
) -> int:
    """Serve the app `name` (from the catalog, or `app_path` as "module:factory"); also on the
    inherited listening socket `shared_fd` if given (`shop up` passes the gateway's port so)."""
    from shop.runtime.catalog import app_factory
    from shop.runtime.logs import configure_logging
    from shop.runtime.server import serve as run_server
    from shop.runtime.service import runtime_of
    from shop.runtime.settings import SettingsError

    if port is not None:
        os.environ["PORT"] = str(port)
    if host is not None:
        os.environ["HOST"] = host
    try:
        app = app_factory(name, app_path)()
    except (SettingsError, KeyError) as exc:
        print(f"shop serve: {exc}", file=sys.stderr)
        return 2
    settings = runtime_of(app).settings
    configure_logging(settings.service, settings.instance_id, settings.log_level)
    if shared_fd is None:
        return run_server(app, settings)
    import socket

    return run_server(app, settings, shared=socket.socket(fileno=shared_fd))


if __name__ == "__main__":
    raise SystemExit(main())
