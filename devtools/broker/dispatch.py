"""Delivers accepted events to the Triggers that match, with Knative's retry and dead-letter rules.

Responses are judged as Knative's broker-filter does: 2xx with an empty body is done, 200 with a
CloudEvent is a reply (back into the broker), any other 2xx body becomes 502; 404, 408, 409,
429, 5xx and connection errors are retried with backoff; 3xx and other 4xx go straight to the
dead-letter sink, which receives the event with `knativeerrordest`, `knativeerrorcode` and
`knativeerrordata`. Like the InMemoryChannel, it holds in-flight events in memory only.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx
import msgspec
from prometheus_client import CollectorRegistry, Counter

from devtools.broker.manifests import Delivery, Destination, Manifests, Trigger
from devtools.broker.parking import Parked, Parking
from shop.events.ce import CloudEvent, InvalidEvent, from_http, to_binary, to_structured
from shop.runtime import telemetry

log = logging.getLogger("devtools.broker.dispatch")
RETRIED = frozenset({404, 408, 409, 429})
Resolve = Callable[[Destination], str | None]
Ingest = Callable[[str, CloudEvent, Mapping[str, str]], Awaitable[bool]]


@dataclass(frozen=True)
class Outcome:
    status: int  # 0: no response at all
    body: bytes = b""
    reply: CloudEvent | None = None

    @property
    def done(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status in RETRIED or self.status >= 500


class Dispatcher:
    def __init__(
        self,
        manifests: Manifests,
        resolve: Resolve,
        client: httpx.AsyncClient,
        registry: CollectorRegistry,
        *,
        max_inflight: int = 512,
        parking: Parking | None = None,
    ) -> None:
        self.manifests = manifests
        self.parking = parking
        self.resolve = resolve
        self.client = client
        self.ingest: Ingest | None = None
        self._slots = asyncio.Semaphore(max_inflight)
        self._tasks: set[asyncio.Task[None]] = set()
        self.deliveries = Counter(
            "broker_deliveries",
            "Deliveries to Trigger subscribers by outcome",
            ["trigger", "outcome"],
            registry=registry,
        )

    def accept(self, broker: str, event: CloudEvent, trace: Mapping[str, str]) -> int:
        """Start delivering to every matching Trigger of `broker`; returns how many matched."""
        attributes = event.attributes()
        matched = [
            t for t in self.manifests.triggers if t.broker == broker and t.matches(attributes)
        ]
        for trigger in matched:
            task = asyncio.create_task(self._deliver(trigger, event, dict(trace)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(matched)

    async def _deliver(self, trigger: Trigger, event: CloudEvent, trace: dict[str, str]) -> None:
        delivery = self.manifests.delivery_for(trigger)
        async with self._slots:
            with telemetry.span(
                f"broker deliver {trigger.name}",
                kind="producer",
                carrier=trace,
                attributes={"cloudevents.event_id": event.id, "cloudevents.event_type": event.type},
            ):
                outcome, url = await self._with_retries(trigger.subscriber, event, delivery, trace)
                if outcome.reply is not None and self.ingest is not None:
                    await self.ingest(trigger.broker, outcome.reply, trace)
                if outcome.done:
                    self.deliveries.labels(trigger.name, "delivered").inc()
                    return
                await self._dead_letter(trigger, event, delivery, outcome, url, trace)

    async def _with_retries(
        self, target: Destination, event: CloudEvent, delivery: Delivery, trace: dict[str, str]
    ) -> tuple[Outcome, str]:
        attempt = 0
        while True:
            url = self.resolve(target)
            outcome = Outcome(0) if url is None else await self._send(url, event, delivery, trace)
            if outcome.done or not outcome.retryable or attempt >= delivery.retry:
                return outcome, url or target.describe()
            wait = delivery.wait_before(attempt)
            log.info(
                "delivery failed; retrying",
                extra={"target": url, "status": outcome.status, "retry_in": wait},
            )
            attempt += 1
            await asyncio.sleep(wait)

    async def _send(
        self, url: str, event: CloudEvent, delivery: Delivery, trace: dict[str, str]
    ) -> Outcome:
        headers, body = to_structured(event) if delivery.structured else to_binary(event)
        headers = {**headers, **trace, "prefer": "reply"}
        telemetry.inject(headers)
        try:
            response = await self.client.post(
                url, content=body, headers=headers, timeout=delivery.timeout or 30.0
            )
        except httpx.HTTPError as exc:
            log.info("delivery error", extra={"target": url, "error": repr(exc)})
            return Outcome(0, repr(exc).encode())
        content = response.content
        if not (200 <= response.status_code < 300) or not content:
            return Outcome(response.status_code, content)
        try:
            reply = from_http(dict(response.headers), content)
        except InvalidEvent:
            return Outcome(502, content)  # a 2xx body that is not an event: Knative says 502
        return Outcome(response.status_code, content, reply=reply)

    async def _dead_letter(
        self,
        trigger: Trigger,
        event: CloudEvent,
        delivery: Delivery,
        failed: Outcome,
        url: str,
        trace: dict[str, str],
    ) -> None:
        if delivery.dead_letter is None:
            self.deliveries.labels(trigger.name, "dropped").inc()
            log.error("event dropped: no dead-letter sink", extra=_described(trigger, event))
            return
        dead = event.with_extensions(
            knativeerrordest=url,
            knativeerrorcode=str(failed.status),
            knativeerrordata=base64.b64encode(failed.body).decode()[:1024],
        )
        outcome, _ = await self._with_retries(delivery.dead_letter, dead, delivery, trace)
        if outcome.done:
            self.deliveries.labels(trigger.name, "dead_lettered").inc()
            return
        if self.parking is not None:
            self.deliveries.labels(trigger.name, "parked").inc()
            self.parking.park(Parked(trigger.name, dead, trace))
            return
        self.deliveries.labels(trigger.name, "lost").inc()
        log.error(
            "dead-letter sink failed; event kept only in this log",
            extra={**_described(trigger, event), "event": msgspec.json.encode(dead).decode()},
        )

    async def offer(self, item: Parked) -> bool:
        """Offer a parked dead letter to its Trigger's dead-letter sink again, once."""
        trigger = next((t for t in self.manifests.triggers if t.name == item.trigger), None)
        delivery = self.manifests.delivery_for(trigger) if trigger is not None else None
        if delivery is None or delivery.dead_letter is None:
            return False
        url = self.resolve(delivery.dead_letter)
        if url is None:
            return False
        outcome = await self._send(url, item.event, delivery, dict(item.trace))
        if outcome.done:
            self.deliveries.labels(item.trigger, "dead_lettered").inc()
        return outcome.done

    async def close(self, grace: float) -> None:
        """Let in-flight deliveries finish for up to `grace` seconds, then cancel them."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("shutdown cancelled %d in-flight deliveries", len(pending))


def _described(trigger: Trigger, event: CloudEvent) -> dict[str, str]:
    return {"trigger": trigger.name, "event_id": event.id, "event_source": event.source}
