"""The local stand-in for Eventing's `authentication-oidc`: a local issuer and its senders.

In a cluster the API server's service-account issuer signs each sender's token (a Trigger's,
a PingSource's, a SinkBinding's OIDC service account) for the receiver's audience, and the
Broker ingress admits only the subjects its EventPolicies name. Locally one RSA key in the data
dir plays the issuer: the broker presents tokens it mints on its deliveries and pings, writes
each SinkBinding's token where the producers read it (as the SinkBinding's /oidc/token), and
checks tokens at its ingress against `eventpolicies.yaml`. Subjects and audiences come from the
manifests in knative/eventing, so the functions verify exactly what they would in the cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from devtools.broker.manifests import Destination, Manifests
from devtools.broker.oidc_issuer import (
    GROUPS,
    ISSUER,
    NAMESPACE,
    TOKEN_TTL,
    LocalIssuer,
    account,
    audience,
    sink_binding_tokens,
    subject,
    token_path,
)
from shop.auth.events import EventClaims
from shop.auth.tokens import TokenVerifier, bearer


def documents(directory: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.y*ml")):
        with path.open() as handle:
            found += [doc for doc in yaml.safe_load_all(handle) if doc]
    return found


def senders(manifests: Manifests) -> dict[Destination, list[str]]:
    """Who delivers to each destination: a Trigger's account to its subscriber and dead-letter
    sink, a PingSource's to its sink."""
    found: dict[Destination, list[str]] = {}
    for trigger in manifests.triggers:
        who = subject(account("Trigger", trigger.name))
        found.setdefault(trigger.subscriber, []).append(who)
        dead = manifests.delivery_for(trigger).dead_letter
        if dead is not None:
            found.setdefault(dead, []).append(who)
    for ping in manifests.pings:
        found.setdefault(ping.sink, []).append(subject(account("PingSource", ping.name)))
    return found


def senders_to(manifests: Manifests, service: str) -> list[str]:
    """The subjects that deliver to a Knative Service (its `EVENTS_OIDC_SUBJECTS`)."""
    return sorted({w for d, who in senders(manifests).items() if d.name == service for w in who})


def allowed_at_broker(docs: Iterable[Mapping[str, Any]], broker: str) -> list[str]:
    """The `from` subjects of the EventPolicies whose `to` names `broker` (`*` ends a prefix)."""
    allowed: list[str] = []
    for doc in docs:
        if doc.get("kind") != "EventPolicy":
            continue
        spec = doc.get("spec") or {}
        targets = [t.get("ref") or {} for t in spec.get("to") or []]
        if not any(t.get("kind") == "Broker" and t.get("name") == broker for t in targets):
            continue
        for source in spec.get("from") or []:
            if source.get("sub"):
                allowed.append(str(source["sub"]))
            elif (ref := source.get("ref")) and ref.get("kind") in GROUPS:
                namespace = ref.get("namespace") or NAMESPACE
                allowed.append(subject(account(ref["kind"], ref["name"]), namespace))
    return allowed


def admitted(sub: str, allowed: Iterable[str]) -> bool:
    return any(sub == a or (a.endswith("*") and sub.startswith(a[:-1])) for a in allowed)


class Presenter:
    """Remembers which destination each resolved URL is for, and presents that destination's
    sender token for its audience on the broker's requests (`token_for`, the `Poster`'s token
    hook; when several Triggers share a subscriber, the first one's account: the local broker
    does not tell its deliveries apart, Eventing's filter does). A token is minted (an RS256
    signature, ~2 ms) once per sender and audience and reused for half its life, then renewed,
    as Eventing caches its tokens."""

    def __init__(
        self, issuer: LocalIssuer, manifests: Manifests, clock: Callable[[], float] = time.time
    ) -> None:
        self.issuer = issuer
        self.senders = senders(manifests)
        self.clock = clock
        self._by_url: dict[str, Destination] = {}
        self._minted: dict[tuple[str, str], tuple[float, str]] = {}
        # URLs answered by a local stand-in for a Service the stack does not run (notifications
        # keeps the dead letters under `shop up`): the token names the stand-in's audience.
        self.stand_ins: dict[str, str] = {}

    def tracking(
        self, resolve: Callable[[Destination], str | None]
    ) -> Callable[[Destination], str | None]:
        def tracked(destination: Destination) -> str | None:
            url = resolve(destination)
            if url is not None:
                self._by_url[url] = destination
            return url

        return tracked

    def stand_in(self, url: str, service: str) -> None:
        """`url` is answered by `service` standing in for the destination's own Service."""
        self.stand_ins[url] = service

    def token_for(self, url: str) -> str | None:
        destination = self._by_url.get(url)
        if destination is None or destination not in self.senders:
            return None
        stand_in = self.stand_ins.get(url)
        aud = (
            audience("Service", stand_in)
            if stand_in
            else destination.audience or audience("Service", destination.name or "")
        )
        key = (self.senders[destination][0], aud)
        renew_at, token = self._minted.get(key, (0.0, ""))
        if self.clock() >= renew_at:  # the token lives TOKEN_TTL: renewed at half its life
            token = self.issuer.mint(*key)
            self._minted[key] = (self.clock() + TOKEN_TTL / 2, token)
        return token


class Gate:
    """The broker ingress's check: a token from the local issuer for the broker's audience,
    from a subject an EventPolicy admits (Eventing's default without one: allow-same-namespace
    is not modelled; a broker without a policy admits any verified sender)."""

    def __init__(self, issuer: LocalIssuer, directory: Path) -> None:
        self.issuer = issuer
        self.docs = documents(directory)
        self._verifiers: dict[str, TokenVerifier] = {}

    async def refusal(self, headers: Mapping[str, str], broker: str) -> tuple[int, str] | None:
        from shop.runtime.errors import Unauthenticated

        aud = audience("Broker", broker)
        verifier = self._verifiers.get(aud)
        if verifier is None:  # one per audience, so its JWKS and verified tokens are cached
            verifier = self._verifiers[aud] = self.issuer.verifier(aud)
        try:
            claims = await verifier.verify_as(bearer(headers.get("authorization")), EventClaims)
        except Unauthenticated as exc:
            return 401, str(exc)
        allowed = allowed_at_broker(self.docs, broker)
        if allowed and not admitted(claims.sub, allowed):
            return 403, f"no EventPolicy admits {claims.sub} to broker {broker}"
        return None


class Identity:
    """All of it for the broker's composition root: one-line hooks in app.py."""

    def __init__(self, data_dir: str, manifests: Manifests, directory: Path) -> None:
        self.issuer = LocalIssuer(data_dir)
        self.issuer.write_jwks()
        self.presenter = Presenter(self.issuer, manifests)
        self.gate = Gate(self.issuer, directory)
        from shop.runtime.background import Background

        self._loops = Background()

    def start(self) -> None:
        """Write the SinkBindings' tokens now and renew them well before they expire."""
        import asyncio

        sink_binding_tokens(self.issuer, self.gate.docs)

        async def renew() -> None:
            while True:
                await asyncio.sleep(TOKEN_TTL / 4)
                sink_binding_tokens(self.issuer, self.gate.docs)

        self._loops.start("oidc-token-renewal", renew)

    async def stop(self) -> None:
        await self._loops.stop()


def local_env(data_dir: Path, service: str, directory: Path) -> dict[str, str]:
    """What `shop up` hands a function: the local issuer to trust, who may send it events, and
    for a producer the file its SinkBinding's token is written to."""
    from devtools.broker.manifests import load

    issuer = LocalIssuer(data_dir)
    jwks = issuer.write_jwks()
    env = {
        "EVENTS_OIDC_ISSUER": ISSUER,
        "EVENTS_OIDC_JWKS_URL": f"file:{jwks}",
        "EVENTS_OIDC_AUDIENCE": audience("Service", service),
        "EVENTS_OIDC_SUBJECTS": ",".join(senders_to(load(directory), service)),
    }
    for doc in documents(directory):
        target = (doc.get("spec") or {}).get("subject") or {}
        if doc.get("kind") == "SinkBinding" and target.get("name") == service:
            env["EVENTS_OIDC_TOKEN_FILE"] = str(token_path(data_dir, doc["metadata"]["name"]))
    return env


def events_env(data_dir: Path, service: str) -> dict[str, str]:
    import os

    from devtools.broker.app import DEFAULT_MANIFESTS

    directory = Path(os.environ.get("BROKER_MANIFESTS") or DEFAULT_MANIFESTS)
    return local_env(data_dir, service, directory)
