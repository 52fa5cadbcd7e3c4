"""`shop dlq list` and `shop dlq replay [ID...]`: the dead letters of the dead-letter store.

`list` shows the letters not yet replayed (`--all`: every one). `replay` sends the chosen letters
(all pending ones when no ID is given) back through the broker as the original events, then
marks them replayed. A replayed event that fails again comes back as a dead letter; consumers
dedupe on (source, id), so a replay never makes a duplicate.

Where things are: the store is `--url` or `$DEAD_LETTERS_URL` (in a cluster, the dead-letters
Service; `--host-header` when reached through Knative's ingress), else `$NOTIFICATIONS_URL`, else
the notifications of the `shop up` stack in `--data-dir` (locally it keeps the dead letters); the
broker is `--broker` or `$K_SINK` / `$BROKER_URL` (else that stack's broker). The same HTTP API
answers in both places (GET /dead-letters, POST /dead-letters/replayed).

Who it is (devtools/dlq_identity.py): the admin, `$SHOP_ADMIN_TOKEN` or the stack's local admin
logging in; and for the broker the replay account's OIDC token, `$SHOP_REPLAY_TOKEN` (in a
cluster: `kubectl create token shop-dlq-replay --audience eventing.knative.dev/broker/shop/default`)
or one the stack's local issuer mints.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shop.events.ce import from_http, to_binary

if TYPE_CHECKING:
    import httpx

# The ids one POST /dead-letters/replayed may carry (the store's limit): a long replay marks its
# letters as it goes, so an interrupted one leaves only its last batch to send twice.
MARK_AT_ONCE = 100


def add_parser(sub: Any) -> None:
    dlq = sub.add_parser("dlq", help="list and replay dead-lettered events")
    actions = dlq.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="show dead letters (pending replay)")
    listing.add_argument("--all", action="store_true", help="include replayed letters")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    replay = actions.add_parser("replay", help="send dead letters back through the broker")
    replay.add_argument("ids", nargs="*", metavar="ID", help="letters to replay (default: all)")
    replay.add_argument("--broker", help="the broker's ingress URL")
    for action in (listing, replay):
        action.add_argument("--url", help="the dead-letter store's URL")
        action.add_argument("--host-header", help="Host header for the store (Knative ingress)")
        action.add_argument("--data-dir", default=None, help="the data dir `shop up` uses")


def run(args: argparse.Namespace) -> int:
    import httpx

    from devtools.stack import data_directory, state_instances

    data_dir = data_directory(args.data_dir)
    local = {i["service"]: i["url"] for i in reversed(state_instances(data_dir))}
    try:
        url = (
            args.url
            or os.environ.get("DEAD_LETTERS_URL")
            or os.environ.get("NOTIFICATIONS_URL")
            or local.get("notifications")
        )
        if url is None:
            return _fail("where is notifications? pass --url or set DEAD_LETTERS_URL")
        from devtools.dlq_identity import admin_headers

        headers = admin_headers(data_dir, local.get("users"))
        if args.host_header:
            headers["host"] = args.host_header
        with httpx.Client(timeout=10, headers=headers) as client:
            if args.action == "list":
                return _list(client, url.rstrip("/"), everything=args.all, as_json=args.json)
            broker = args.broker or os.environ.get("K_SINK") or os.environ.get("BROKER_URL")
            if broker is None and "broker" in local:
                broker = f"{local['broker']}/default/default"  # Knative's ingress path shape
            if broker is None:
                return _fail("where is the broker? pass --broker or set BROKER_URL")
            return _replay(client, url.rstrip("/"), broker, args.ids, data_dir)
    except httpx.HTTPError as exc:
        return _fail(f"request failed: {exc}")


def letters(client: httpx.Client, url: str, *, everything: bool) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, "replayed": str(everything).lower()}
        if cursor:
            params["cursor"] = cursor
        response = client.get(f"{url}/dead-letters", params=params)
        response.raise_for_status()
        page = response.json()
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def _list(client: httpx.Client, url: str, *, everything: bool, as_json: bool) -> int:
    found = letters(client, url, everything=everything)
    if as_json:
        for letter in found:
            print(json.dumps(letter))
        return 0
    print(f"{'id':<38}{'type':<28}{'code':<6}{'times':<7}{'received':<26}replayed")
    for letter in found:
        print(
            f"{letter['id']:<38}{letter['type']:<28}{letter['error_code'] or '-':<6}"
            f"{letter['times']:<7}{letter['received']:<26}{letter['replayed'] or '-'}"
        )
    print(f"{len(found)} dead letter(s)", file=sys.stderr)
    return 0


def _replay(client: httpx.Client, url: str, broker: str, ids: list[str], data_dir: Path) -> int:
    import httpx

    from devtools.dlq_identity import replay_headers

    pending = {letter["id"]: letter for letter in letters(client, url, everything=False)}
    unknown = [i for i in ids if i not in pending]
    if unknown:
        return _fail(f"no pending dead letter with id {', '.join(unknown)}")
    chosen = [pending[i] for i in ids] if ids else list(pending.values())
    sent: list[str] = []
    unmarked: list[str] = []
    for letter in chosen:
        event = from_http(
            {"content-type": "application/cloudevents+json"}, json.dumps(letter["event"]).encode()
        )
        headers, body = to_binary(event)
        own_host = {"host": httpx.URL(broker).netloc.decode()}  # not the store's --host-header
        response = client.post(
            broker, content=body, headers={**headers, **own_host, **replay_headers(data_dir)}
        )
        if response.is_success:
            sent.append(letter["id"])
            unmarked.append(letter["id"])
        else:
            print(f"{letter['id']}: broker answered {response.status_code}", file=sys.stderr)
        if len(unmarked) == MARK_AT_ONCE:
            _mark(client, url, unmarked)
    if unmarked:
        _mark(client, url, unmarked)
    print(f"replayed {len(sent)} of {len(chosen)} dead letter(s)")
    return 0 if len(sent) == len(chosen) else 1


def _mark(client: httpx.Client, url: str, ids: list[str]) -> None:
    """Mark `ids` replayed (the store takes up to MARK_AT_ONCE a request) and forget them."""
    client.post(f"{url}/dead-letters/replayed", json={"ids": ids}).raise_for_status()
    ids.clear()


def _fail(message: str) -> int:
    print(f"shop dlq: {message}", file=sys.stderr)
    return 1
