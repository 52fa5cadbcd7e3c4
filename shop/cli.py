"""The `shop` command: serve one service, run the whole stack locally, inspect the registry.

Kept light: heavy modules are imported by the subcommand that needs them, after the garbage
collector is paused, so `shop serve` starts as fast as the service allows.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run one service in the foreground, as its container does")
    serve.add_argument(
        "name",
        nargs="?",
        default=os.environ.get("SHOP_SERVICE"),
        help="gateway, users, products, orders or notifications (default: $SHOP_SERVICE,"
        " which each container image sets)",
    )
    serve.add_argument("--port", type=int, help="overrides $PORT (default 8080)")
    serve.add_argument("--host", help="overrides $HOST (default 0.0.0.0)")

    up = sub.add_parser("up", help="run the whole system locally on embedded defaults")
    up.add_argument("--port", type=int, default=8080, help="the gateway's port (default 8080)")
    up.add_argument(
        "--replicas",
        action="append",
        default=[],
        metavar="SERVICE=N",
        help="run N instances of SERVICE (repeatable)",
    )
    up.add_argument("--data-dir", default=None, help="where local state lives (default .data)")
    up.add_argument(
        "--otlp-endpoint",
        default=None,
        metavar="URL",
        help="send traces over OTLP/HTTP here (e.g. a Jaeger all-in-one on http://127.0.0.1:4318)",
    )

    restart = sub.add_parser("restart", help="roll a service of a running `shop up` over")
    restart.add_argument("name", help="the service to restart, one instance at a time")
    restart.add_argument("--data-dir", default=None, help="the data dir `shop up` uses")

    registry = sub.add_parser("registry", help="print the registry's instances as JSON")
    registry.add_argument("--redis-url", default=None, help="default: $REDIS_URL or `shop up`'s")

    from shop import dlq

    dlq.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    gc.disable()  # start-up allocates much and frees little; `serve` re-enables it once up
    args = _parser().parse_args(argv)
    if args.command != "serve":
        gc.enable()
    if args.command == "serve":
        if not args.name:
            _parser().error("serve: name a service, or set SHOP_SERVICE")
        return serve(args.name, port=args.port, host=args.host)
    if args.command == "up":
        from shop.local import run_up

        return run_up(
            port=args.port,
            replicas=args.replicas,
            data_dir=args.data_dir,
            otlp_endpoint=args.otlp_endpoint,
        )
    if args.command == "restart":
        return restart_service(args.name, args.data_dir)
    if args.command == "dlq":
        from shop import dlq

        return dlq.run(args)
    return print_registry(args.redis_url)


def serve(name: str, *, port: int | None = None, host: str | None = None) -> int:
    from shop.catalog import app_factory
    from shop.logs import configure_logging
    from shop.server import serve as run_server
    from shop.service import runtime_of
    from shop.settings import SettingsError

    if port is not None:
        os.environ["PORT"] = str(port)
    if host is not None:
        os.environ["HOST"] = host
    try:
        app = app_factory(name)()
    except (SettingsError, KeyError) as exc:
        print(f"shop serve: {exc}", file=sys.stderr)
        return 2
    settings = runtime_of(app).settings
    configure_logging(settings.service, settings.instance_id, settings.log_level)
    return run_server(app, settings)


def print_registry(redis_url: str | None) -> int:
    import asyncio
    from pathlib import Path

    import msgspec

    from shop.local import state_redis_url
    from shop.registry import Registry
    from shop.service import redis_client

    url = (
        redis_url
        or os.environ.get("REDIS_URL")
        or state_redis_url(Path(os.environ.get("SHOP_DATA_DIR", ".data")))
        or "redis://127.0.0.1:6379/0"
    )

    async def snapshot() -> bytes:
        client = redis_client(url)
        try:
            return msgspec.json.encode(await Registry(client).snapshot())
        finally:
            await client.aclose()

    from redis.exceptions import RedisError

    try:
        data = asyncio.run(snapshot())
    except (OSError, RedisError) as exc:
        print(f"shop registry: cannot reach Redis at {url}: {exc}", file=sys.stderr)
        return 1
    print(msgspec.json.format(data, indent=2).decode())
    return 0


def restart_service(name: str, data_dir: str | None) -> int:
    from shop.control import SOCKET_NAME, send_command
    from shop.local import data_directory

    path = data_directory(data_dir) / SOCKET_NAME
    try:
        ok, _ = send_command(path, f"restart {name}")
    except OSError as exc:
        print(f"shop restart: no running `shop up` answers at {path}: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1
