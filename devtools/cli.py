"""`shop`: the laptop's command. Serve one service, run the whole stack locally, inspect it.

Never in an image: images run `shop-serve` (shop.runtime.entry), which imports nothing from here.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from shop.runtime.entry import add_serve_arguments, serve

# Apps that only the laptop runs: the local stand-in for the Knative Broker.
LOCAL_APPS = {"broker": "devtools.broker.app:create_app"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve_parser = sub.add_parser(
        "serve", help="run one service in the foreground, as its container does"
    )
    add_serve_arguments(serve_parser)
    serve_parser.add_argument("--shared-fd", type=int, help=argparse.SUPPRESS)  # `shop up`'s

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
    registry.add_argument("--data-dir", default=None, help="the data dir `shop up` uses")

    from devtools import dlq

    dlq.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    gc.disable()  # start-up allocates much and frees little; `serve` re-enables it once up
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        gc.enable()
    if args.command == "serve":
        if not args.name:
            parser.error("serve: name a service, or set SHOP_SERVICE")
        return serve(
            args.name,
            port=args.port,
            host=args.host,
            app_path=LOCAL_APPS.get(args.name),
            shared_fd=args.shared_fd,
        )
    if args.command == "up":
        from devtools.stack import run_up

        return run_up(
            port=args.port,
            replicas=args.replicas,
            data_dir=args.data_dir,
            otlp_endpoint=args.otlp_endpoint,
        )
    if args.command == "restart":
        return restart_service(args.name, args.data_dir)
    if args.command == "dlq":
        from devtools import dlq

        return dlq.run(args)
    return print_registry(args.redis_url, args.data_dir)


def print_registry(redis_url: str | None, data_dir: str | None) -> int:
    import asyncio

    import msgspec
    from redis.exceptions import RedisError

    from devtools.stack import data_directory, state_redis_url
    from shop.registry.store import Registry
    from shop.runtime.service import redis_client

    if redis_url is None and data_dir is not None:  # named on the command line: it wins
        redis_url = state_redis_url(data_directory(data_dir))
        if redis_url is None:
            print(
                f"shop registry: no `shop up` runs in {data_directory(data_dir)}", file=sys.stderr
            )
            return 1
    url = (
        redis_url
        or os.environ.get("REDIS_URL")
        or state_redis_url(data_directory())
        or "redis://127.0.0.1:6379/0"
    )

    async def snapshot() -> bytes:
        client = redis_client(url)
        try:
            return msgspec.json.encode(await Registry(client).snapshot())
        finally:
            await client.aclose()

    try:
        data = asyncio.run(snapshot())
    except (OSError, RedisError) as exc:
        print(f"shop registry: cannot reach Redis at {_redacted(url)}: {exc}", file=sys.stderr)
        return 1
    print(msgspec.json.format(data, indent=2).decode())
    return 0


def restart_service(name: str, data_dir: str | None) -> int:
    from devtools.control import SOCKET_NAME, send_command
    from devtools.stack import data_directory

    path: Path = data_directory(data_dir) / SOCKET_NAME
    try:
        ok, _ = send_command(path, f"restart {name}")
    except OSError as exc:
        print(f"shop restart: no running `shop up` answers at {path}: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1


def _redacted(url: str) -> str:
    """The URL without its password (`shop up`'s private Redis has one)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
