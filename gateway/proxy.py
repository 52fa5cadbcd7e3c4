"""The proxy: a raw ASGI app in front of Litestar for the public prefixes. The hot path.

Per request: match the route, authenticate, rate-limit, pick an instance, forward with the
route's timeout, stream the answer back. Retries go to another instance when the request is
idempotent, its body replayable and the retry budget allows. With no instance registered the
request goes to the service's fallback URL (Knative scales it from zero) with the cold-start
timeout; such calls never touch a breaker.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar.exceptions import HTTPException

from gateway.auth import Authenticator, authorize
from gateway.balancer import Balancer, Upstream
from gateway.bodies import Streamed, read_all, too_large
from gateway.forwarding import RequestHead, request_headers
from gateway.gcra import Limit
from gateway.instruments import Instruments
from gateway.paths import dispatched_path
from gateway.ratelimit import RateLimiter
from gateway.retries import RETRYABLE_STATUS, RetryBudget, backoff, idempotent
from gateway.routing import Route, RouteTable
from gateway.upstream import Failure, UpstreamClient
from gateway.watchdog import Watchdog
from shop.http.http1 import Response
from shop.runtime import telemetry
from shop.runtime.errors import (
    NotFound,
    ShopError,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)
from shop.runtime.problems import FAILURE_HEADER

if TYPE_CHECKING:
    from litestar.types import Receive, Scope, Send

    from shop.auth.tokens import Claims


log = logging.getLogger("gateway")
FAILURE = FAILURE_HEADER.lower().encode()


@dataclass(frozen=True, slots=True)
class ProxyOptions:
    max_body_bytes: int = 1_048_576
    replay_body_bytes: int = 65_536
    max_attempts: int = 3
    retry_backoff: float = 0.01
    connect_timeout: float = 2.0
    max_idle_per_origin: int = 100
    max_connections: int = 1000
    suspect_after: float = 2.0  # no answer for this long: probe the instance's health
    probe_timeout: float = 1.0


class Proxy:
    def __init__(
        self,
        table: RouteTable,
        balancer: Balancer,
        instruments: Instruments,
        options: ProxyOptions,
        *,
        authenticator: Authenticator | None = None,
        limiter: RateLimiter | None = None,
        limits: dict[str, Limit] | None = None,
        budget: RetryBudget | None = None,
    ) -> None:
        self.table = table
        self.balancer = balancer
        self.instruments = instruments
        self.options = options
        self.authenticator = authenticator
        self.limiter = limiter
        self.limits = limits or {}
        self.budget = budget or RetryBudget()
        self.client = UpstreamClient(
            connect_timeout=options.connect_timeout,
            max_idle=options.max_idle_per_origin,
            max_connections=options.max_connections,
        )
        self.watchdog = Watchdog(
            self._alive, suspect_after=options.suspect_after, on_eject=self._ejected
        )
        self._down: set[str] = set()  # services answered 503 "no instance": logged once

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path: bytes = scope["raw_path"]
        route = self.table.match(dispatched_path(raw_path, scope["path"]))
        if route is None:
            raise NotFound("No such route.")
        scope["path_template"] = route.template
        method: str = scope["method"]  # type: ignore[typeddict-item]
        headers: list[tuple[bytes, bytes]] = scope["headers"]  # type: ignore[assignment]
        request = RequestHead(headers)
        address = scope.get("client")
        peer = address[0] if address else "unknown"
        extra: list[tuple[bytes, bytes]] = []
        claims = None
        policy = route.policy(method)
        if request.authorization is not None or policy != "public":
            if self.authenticator is None:
                raise Unavailable("Authentication is not configured.")
            try:
                claims = await self.authenticator.identify(request.authorization)
            except Unauthenticated:  # still a request: counted against the client's address
                if self.limiter is not None and route.rate_limit != "none":
                    refused = await self._limit(route, method, None, peer, extra)
                    if refused is not None:
                        await _answer(refused, extra, scope, receive, send)
                        return
                raise
            authorize(policy, claims)
        if self.limiter is not None and route.rate_limit != "none":
            refused = await self._limit(route, method, claims, peer, extra)
            if refused is not None:
                await _answer(refused, extra, scope, receive, send)
                return
        if request.length is not None and request.length > self.options.max_body_bytes:
            raise too_large()
        if request.length == -1:
            raise HTTPException(status_code=400, detail="Content-Length is not a number.")
        upstream_headers = request_headers(
            headers,
            peer=peer,
            scheme=scope.get("scheme", "http"),
            request_id=scope.get("state", {}).get("request_id", ""),
        )
        if telemetry.enabled():  # continue the trace from the gateway's own span
            carrier: dict[str, str] = {}
            telemetry.inject(carrier)
            upstream_headers = [
                (n, v) for n, v in upstream_headers if n not in {b"traceparent", b"tracestate"}
            ]
            upstream_headers.extend((n.encode(), v.encode("latin-1")) for n, v in carrier.items())
        query: bytes = scope.get("query_string", b"")
        target = route.upstream_path or raw_path.decode("latin-1")
        if query:
            target = f"{target}?{query.decode('latin-1')}"
        body, replayable = await self._body(request, receive)
        retry = replayable and idempotent(method.encode(), request.idempotency_key)
        await self._forward(route, method, target, upstream_headers, body, retry, extra, send)

    async def _limit(
        self,
        route: Route,
        method: str,
        claims: Claims | None,
        client: str,
        extra: list[tuple[bytes, bytes]],
    ) -> TooManyRequests | None:
        """Check the route's limit; the refusal to send, if any."""
        assert self.limiter is not None
        limit = self.limits[route.rate_limit]
        key = (
            f"user:{claims.sub}" if claims is not None and limit.name != "auth" else f"ip:{client}"
        )
        decision = await self.limiter.check(key, limit, method)
        if decision is None:
            self.instruments.rate_limited.labels(limit.name, "fail_open").inc()
            return None
        extra.extend(decision.headers())
        if decision.allowed:
            return None
        self.instruments.rate_limited.labels(limit.name, "limited").inc()
        wait = max(1, math.ceil(decision.retry_after))
        return TooManyRequests("Too many requests; slow down.", retry_after=wait)

    async def _body(self, request: RequestHead, receive: Receive) -> tuple[Any, bool]:
        """The body to send: None, the whole of a small one (replayable), or a stream."""
        if not request.chunked and not request.length:
            return None, True
        if (
            not request.chunked
            and request.length is not None
            and (request.length <= self.options.replay_body_bytes)
        ):
            return await read_all(receive, self.options.max_body_bytes), True
        length = None if request.chunked else request.length
        return Streamed(receive, self.options.max_body_bytes, length), False

    async def _forward(
        self,
        route: Route,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: Any,
        retry: bool,
        extra: list[tuple[bytes, bytes]],
        send: Send,
    ) -> None:
        service = route.service.name
        self.budget.deposit()
        tried: list[Upstream] = []
        outcome: Failure = "error"
        while True:
            upstream = self.balancer.pick(service, tried)
            if upstream is None:
                if tried:
                    break
                await self._no_instance(route, method, target, headers, body, extra, send)
                return
            tried.append(upstream)
            result = await self._call(upstream, route, method, target, headers, body)
            if not isinstance(result, str) and (
                result.status not in RETRYABLE_STATUS or deliberate(result)
            ):
                await self._relay(result, upstream, method, extra, send)
                if self._down and service in self._down:
                    self._down.discard(service)
                    log.warning("%s instances answer again", service)
                return
            # A refused connection never reached the instance: safe to retry for any method.
            replayable = body is None or isinstance(body, bytes)
            again = retry or (result == "refused" and replayable)
            again = again and len(tried) < self.options.max_attempts
            again = again and len(tried) < len(self.balancer.pool(service))
            if again and not self.budget.withdraw():
                self.instruments.budget_exhausted.labels(service).inc()
                again = False
            if not again:
                if not isinstance(result, str):
                    await self._relay(result, upstream, method, extra, send)
                    return
                outcome = result
                break
            if not isinstance(result, str):
                result.release()
                upstream.outstanding -= 1
            self.instruments.retries.labels(service).inc()
            await asyncio.sleep(backoff(len(tried), self.options.retry_backoff))
        if outcome == "timeout":
            raise timed_out(f"The {service} service timed out.")
        raise Unavailable(f"The {service} service did not answer; try again.", retry_after=1)

    async def _call(
        self,
        upstream: Upstream,
        route: Route,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: Any,
    ) -> Response | Failure:
        """One attempt: the response (headers read), or "refused", "error" or "timeout".
        A returned response keeps `upstream.outstanding` raised until it is relayed."""
        service = upstream.service
        breaker = upstream.breaker
        upstream.outstanding += 1
        started = time.perf_counter()
        try:
            result = await self.watchdog.watch(
                upstream,
                self.client.request(upstream.url, method, target, headers, body, route.timeout),
            )
        except BaseException:
            upstream.outstanding -= 1
            breaker.release()
            raise
        if isinstance(result, str):
            upstream.outstanding -= 1
            breaker.record(False)
            self.instruments.upstream(service, result, None)
            return result
        # Only what shows this instance broken counts: not a 503 that it marked as a
        # dependency's outage or its own load shedding (`shop.runtime.problems`).
        breaker.record(result.status not in RETRYABLE_STATUS or deliberate(result))
        self.instruments.upstream(
            service, f"{result.status // 100}xx", time.perf_counter() - started
        )
        return result

    async def _alive(self, upstream: Upstream) -> bool:
        """The watchdog's probe: does the instance answer its liveness check in time?"""
        base, seconds = upstream.url, self.options.probe_timeout
        answer = await self.client.request(base, "GET", "/health", [], None, seconds)
        if isinstance(answer, str):
            return False
        answer.release()
        return answer.status < 500

    def _ejected(self, upstream: Upstream) -> None:
        self.instruments.ejections.labels(upstream.service).inc()
        log.warning(
            "ejected %s instance %s: no answer to a health probe",
            upstream.service,
            upstream.instance.instance_id,
        )

    async def _relay(
        self,
        response: Response,
        upstream: Upstream,
        method: str,
        extra: list[tuple[bytes, bytes]],
        send: Send,
    ) -> None:
        try:
            await self.client.relay(response, method, extra, send)
        finally:
            upstream.outstanding -= 1

    async def _no_instance(
        self,
        route: Route,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: Any,
        extra: list[tuple[bytes, bytes]],
        send: Send,
    ) -> None:
        service = route.service
        if service.name not in self._down:
            self._down.add(service.name)
            log.warning("no %s instance can take requests now", service.name)
        if self.balancer.pool(service.name):
            self.instruments.unavailable.labels(service.name).inc()
            wait = self.balancer.retry_after(service.name)
            raise Unavailable(
                f"Every {service.name} instance is failing; try again shortly.",
                retry_after=max(1, math.ceil(wait)),
            )
        if service.fallback_url is None:
            self.instruments.unavailable.labels(service.name).inc()
            raise Unavailable(f"No {service.name} instance is running.", retry_after=1)
        # Scale to zero: Knative's activator holds the request while a pod starts.
        self.instruments.cold_starts.labels(service.name).inc()
        started = time.perf_counter()
        base = service.fallback_url.rstrip("/")
        seconds = service.cold_start_timeout
        response = await self.client.request(base, method, target, headers, body, seconds)
        if isinstance(response, str):
            self.instruments.upstream(service.name, response, None)
            if response == "timeout":
                raise timed_out(f"The {service.name} service did not start in time.")
            detail = f"The {service.name} service cannot be reached; try again."
            raise Unavailable(detail, retry_after=1)
        self.instruments.upstream(
            service.name, f"{response.status // 100}xx", time.perf_counter() - started
        )
        await self.client.relay(response, method, extra, send)


def deliberate(response: Response) -> bool:
    """Did the instance mark this answer as a dependency's outage or its own shedding?"""
    return any(name.lower() == FAILURE for name, _ in response.headers)


def timed_out(detail: str) -> HTTPException:
    return HTTPException(status_code=504, detail=detail, headers={"Retry-After": "1"})


async def _answer(
    error: ShopError, headers: list[tuple[bytes, bytes]], scope: Scope, receive: Receive, send: Send
) -> None:
    """Send the problem+json for `error` (the one mapping in `shop.runtime.problems`)."""
    from litestar import Request

    from shop.runtime.problems import from_shop_error

    request: Request[Any, Any, Any] = Request(scope, receive)
    response = from_shop_error(request, error)
    response.headers.update({k.decode(): v.decode() for k, v in headers})
    await response.to_asgi_response(app=None, request=request)(scope, receive, send)
