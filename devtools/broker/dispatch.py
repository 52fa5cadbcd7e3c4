"""Delivers accepted events to the Triggers that match, with Knative's retry and dead-letter rules.

Responses are judged as Knative's broker-filter does: 2xx with an empty body is done, 200 with a
CloudEvent is a reply (back into the broker), any other 2xx body becomes 502; 404, 408, 409,
429, 5xx and connection errors are retried with backoff; 3xx and other 4xx go straight to the
dead-letter sink, which receives the event with `knativeerrordest`, `knativeerrorcode` and
`knativeerrordata`. A 429 or 503 with `Retry-After` waits as Eventing's dispatcher does when
`retryAfterMax` is set. Unlike the InMemoryChannel, every delivery is in the journal before the
ingress answers 202 and leaves it only when delivered or dead-lettered: a kill or a stop of the
broker delays events, never loses them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CollectorRegistry, Counter

from devtools.broker.journal import Entry, Journal
from devtools.broker.manifests import Delivery, Destination, Manifests, Trigger
from devtools.broker.outcome import ASKS_TO_WAIT, Outcome, retry_after
from devtools.broker.parking import Parked, Parking
from shop.events.ce import CloudEvent, InvalidEvent, from_http, to_binary, to_structured
from shop.events.poster import Poster
from shop.runtime import telemetry

log = logging.getLogger("devtools.broker.dispatch")
Resolve = Callable[[Destination], str | None]
Ingest = Callable[[str, CloudEvent, Mapping[str, str]], Awaitable[bool]]
Sleep = Callable[[float], Awaitable[None]]


class Dispatcher:
    def __init__(
        self,
        manifests: Manifests,
        resolve: Resolve,
        client: Poster,
        registry: CollectorRegistry,
        *,
        journal: Journal,
        parking: Parking,
        max_inflight: int = 512,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.manifests = manifests
        self.journal = journal
        self.parking = parking
        self.resolve = resolve
        self.client = client
        self.sleep = sleep  # injectable: a compressed clock in tests
        self.ingest: Ingest | None = None
        self._slots = asyncio.Semaphore(max_inflight)
        self._tasks: set[asyncio.Task[None]] = set()
        self.deliveries = Counter(
            "broker_deliveries",
            "Deliveries to Trigger subscribers by outcome",
            ["trigger", "outcome"],
            registry=registry,
        )

    async def accept(self, broker: str, event: CloudEvent, trace: Mapping[str, str]) -> int:
        """Journal a delivery to every matching Trigger of `broker`, and start them.

        Returns how many matched, once the deliveries are on disk; raises if they could not be
        written (the ingress answers 5xx, the sender sends again). The deliveries start while
        the journal syncs, off the event loop: they need their journal row only when they end,
        so the sync is not on the event's way to its subscriber. A subscriber may thus get an
        event whose journal write then failed, and gets it again from the sender's retry: at
        least once, as ever (consumers dedupe on source and id).
        """
        attributes = event.attributes()
        matched = [
            t for t in self.manifests.triggers if t.broker == broker and t.matches(attributes)
        ]
        if not matched:
            return 0
        entries = [Entry(t.name, event, dict(trace)) for t in matched]
        written = asyncio.ensure_future(self.journal.write(entries))
        for index, (trigger, entry) in enumerate(zip(matched, entries, strict=True)):
            self._start(trigger, entry, Journalled(written, index))
        await asyncio.shield(written)
        return len(matched)

    def resume(self) -> int:
        """Start the deliveries a previous run left in the journal; returns how many."""
        triggers = {t.name: t for t in self.manifests.triggers}
        pending = self.journal.pending()
        for entry in pending:
            trigger = triggers.get(entry.trigger)
            if trigger is None:  # the Trigger is gone from the manifests: keep it for `dlq`
                log.warning("journalled delivery for unknown trigger %s parked", entry.trigger)
                self.parking.park(entry)
                continue
            self._start(trigger, entry, None)
        return len(pending)

    def _start(self, trigger: Trigger, entry: Entry, written: Journalled | None) -> None:
        task = asyncio.create_task(self._deliver(trigger, entry, written))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, trigger: Trigger, entry: Entry, written: Journalled | None) -> None:
        event, trace = entry.event, dict(entry.trace)
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
                if written is not None:
                    found = await written.entry()
                    if found is None:
                        return  # never accepted: its sender was told so, and sends it again
                    entry = found
                if outcome.done:
                    self.deliveries.labels(trigger.name, "delivered").inc()
                    await self.journal.finish(entry.row)
                    return
                await self._dead_letter(trigger, entry, delivery, outcome, url)

    async def _with_retries(
        self, target: Destination, event: CloudEvent, delivery: Delivery, trace: dict[str, str]
    ) -> tuple[Outcome, str]:
        attempt = 0
        while True:
            url = self.resolve(target)
            outcome = Outcome(0) if url is None else await self._send(url, event, delivery, trace)
            if outcome.done or not outcome.retryable or attempt >= delivery.retry:
                return outcome, url or target.describe()
            wait = delivery.wait_before(attempt, outcome.retry_after)
            log.debug(
                "delivery failed; retrying",
                extra={"target": url, "status": outcome.status, "retry_in": wait},
            )
            attempt += 1
            await self.sleep(wait)

    async def _send(
        self, url: str, event: CloudEvent, delivery: Delivery, trace: dict[str, str]
    ) -> Outcome:
        headers, body = to_structured(event) if delivery.structured else to_binary(event)
        headers = {**headers, **trace, "prefer": "reply"}
        telemetry.inject(headers)
        try:
            response = await self.client.post(
                url, content=body, headers=headers, seconds=delivery.timeout or 30.0
            )
        except (OSError, TimeoutError) as exc:
            log.debug("delivery error", extra={"target": url, "error": repr(exc)})
            return Outcome(0, repr(exc).encode())
        content = response.content
        if response.status_code in ASKS_TO_WAIT:
            asked = retry_after(response.headers.get("retry-after"))
            return Outcome(response.status_code, content, retry_after=asked)
        if not (200 <= response.status_code < 300) or not content:
            return Outcome(response.status_code, content)
        try:
            reply = from_http(dict(response.headers), content)
        except InvalidEvent:
            return Outcome(502, content)  # a 2xx body that is not an event: Knative says 502
        return Outcome(response.status_code, content, reply=reply)

    async def _dead_letter(
        self, trigger: Trigger, entry: Entry, delivery: Delivery, failed: Outcome, url: str
    ) -> None:
        event, trace = entry.event, dict(entry.trace)
        if delivery.dead_letter is None:
            self.deliveries.labels(trigger.name, "dropped").inc()
            log.error("event dropped: no dead-letter sink", extra=_described(trigger, event))
            await self.journal.finish(entry.row)
            return
        dead = event.with_extensions(
            knativeerrordest=url,
            knativeerrorcode=str(failed.status),
            knativeerrordata=base64.b64encode(failed.body).decode()[:1024],
        )
        outcome, _ = await self._with_retries(delivery.dead_letter, dead, delivery, trace)
        if outcome.done:
            self.deliveries.labels(trigger.name, "dead_lettered").inc()
            await self.journal.finish(entry.row)
            return
        self.deliveries.labels(trigger.name, "parked").inc()
        self.parking.park(Parked(trigger.name, dead, trace, entry.row))

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

    async def close(self) -> None:
        """Stop every delivery under way; each stays in the journal for the next start."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if tasks:
            log.info("stopped %d deliveries; they resume at the next start", len(tasks))


class Journalled:
    """A delivery's journal row, being written while the delivery starts."""

    def __init__(self, written: asyncio.Future[list[Entry]], index: int) -> None:
        self.written = written
        self.index = index

    async def entry(self) -> Entry | None:
        """The journalled entry (with its row); None if the write failed."""
        try:
            return (await asyncio.shield(self.written))[self.index]
        except (sqlite3.Error, OSError):
            return None


def _described(trigger: Trigger, event: CloudEvent) -> dict[str, str]:
    return {"trigger": trigger.name, "event_id": event.id, "event_source": event.source}
