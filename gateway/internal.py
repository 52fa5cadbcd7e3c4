"""Paths for the cluster's eyes only (`/metrics`): refused when the request came through a proxy.

Every request through Knative's ingress passes the ingress and the queue-proxy, and both add
`X-Forwarded-For` (Envoy also `X-Forwarded-Proto`); a client cannot take them off. Prometheus
scrapes the pod's port 8080 directly, with none of them. So an internal path answers only
requests that carry no forwarding header; the rest get the same 404 as an unknown path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.enums import ScopeType

from shop.runtime.problems import problem

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

INTERNAL = frozenset({"/metrics"})
PROXIED = frozenset(
    {
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"forwarded",
        b"k-proxy-request",
        b"k-original-host",
    }
)


class InternalOnly:
    def __init__(self, app: ASGIApp, paths: frozenset[str] = INTERNAL) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == ScopeType.HTTP
            and scope["path"].rstrip("/") in self.paths
            and any(name in PROXIED for name, _ in scope["headers"])
        ):
            request: Request[Any, Any, Any] = Request(scope, receive)
            response = problem(404, "No such route.")
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)
            return
        await self.app(scope, receive, send)
