"""The service registry on Redis.

Layout, per service, under one hash tag so every script stays in one cluster slot:
- `{shop}:registry:<service>:alive`  sorted set: instance id, score = expiry (ms, Redis clock)
- `{shop}:registry:<service>:record` hash, instance id -> JSON record
- `{shop}:registry:services`         set of service names

Register, renew, mark and deregister are single Lua scripts, so they are atomic and O(log n).
Discover reads the live range of the sorted set (O(log n + m)) and prunes the expired in the
same script. Changes are published on one channel so cached views refresh at once; nothing
ever runs KEYS or SCAN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from redis.asyncio import Redis

PREFIX = "{shop}:registry"
CHANNEL = f"{PREFIX}:changes"
SERVICES = f"{PREFIX}:services"
# Record metadata: the name to verify an https address's certificate against, when it is not
# the address's host (Knative's queue-proxy serves `kn-user-<namespace>` on its TLS port 8112).
TLS_SERVER_NAME = "tls_server_name"

# KEYS: alive, record, services   ARGV: id, record json, ttl ms, service, channel
_UPSERT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
local previous = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[4])
if added == 1 or previous ~= ARGV[2] then redis.call('PUBLISH', ARGV[5], ARGV[4]) end
return added
"""

# KEYS: alive, record   ARGV: id, record json, service, channel
_MARK = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then return 1 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[3])
return 1
"""

# KEYS: alive, record   ARGV: id, service, channel
_REMOVE = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if removed == 1 then redis.call('PUBLISH', ARGV[3], ARGV[2]) end
return removed
"""

# KEYS: alive, record   ARGV: service, channel   -> {now_ms, id, score, record, ...}
_LIVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  for i = 1, #expired, 500 do
    redis.call('HDEL', KEYS[2], unpack(expired, i, math.min(i + 499, #expired)))
  end
  redis.call('PUBLISH', ARGV[2], ARGV[1])
end
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
local out = {tostring(now)}
for i = 1, #live, 2 do
  local record = redis.call('HGET', KEYS[2], live[i])
  if record then
    out[#out + 1] = live[i + 1]
    out[#out + 1] = record
  end
end
return out
"""


class Instance(msgspec.Struct, frozen=True, kw_only=True):
    """One running instance of a service, as stored in the registry."""

    instance_id: str
    service: str
    address: str
    healthy: bool = True
    ttl_ms: int = 10_000
    registered_at: float = 0.0
    metadata: dict[str, str] = {}
    last_seen: float = 0.0
    expires_at: float = 0.0

    @property
    def scheme(self) -> str:
        return self.address.partition("://")[0] if "://" in self.address else "http"

    @property
    def tls_server_name(self) -> str | None:
        """What a caller checks the certificate against (None over plain HTTP)."""
        if self.scheme != "https":
            return None
        host = self.address.partition("://")[2].split("/")[0].rpartition(":")[0]
        return self.metadata.get(TLS_SERVER_NAME) or host or None


# The stored record is the instance minus what Redis's clock says (`last_seen`, `expires_at`),
# so a plain renewal never changes the record (and publishes nothing).
_CLOCK_FIELDS = ("last_seen", "expires_at")
_encode_record = msgspec.json.Encoder(order="deterministic").encode
_decode_record = msgspec.json.Decoder(Instance).decode


def _alive(service: str) -> str:
    return f"{PREFIX}:{service}:alive"


def _records(service: str) -> str:
    return f"{PREFIX}:{service}:record"


def _record_json(instance: Instance) -> bytes:
    record = msgspec.structs.asdict(instance)
    for name in _CLOCK_FIELDS:
        del record[name]
    return _encode_record(record)


class Registry:
    """The registry's Redis adapter. Every call is one round trip."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._upsert = redis.register_script(_UPSERT)
        self._mark = redis.register_script(_MARK)
        self._remove = redis.register_script(_REMOVE)
        self._live = redis.register_script(_LIVE)

    async def register(self, instance: Instance) -> bool:
        """Add or renew `instance` for one TTL. True when it was not registered before."""
        keys = [_alive(instance.service), _records(instance.service), SERVICES]
        args: list[str | bytes | int] = [
            instance.instance_id,
            _record_json(instance),
            instance.ttl_ms,
            instance.service,
            CHANNEL,
        ]
        return bool(await self._upsert(keys=keys, args=args))

    heartbeat = register

    async def mark(self, instance: Instance) -> bool:
        """Rewrite the record (e.g. `healthy=False`) without renewing its TTL."""
        keys = [_alive(instance.service), _records(instance.service)]
        args: list[str | bytes] = [
            instance.instance_id,
            _record_json(instance),
            instance.service,
            CHANNEL,
        ]
        return bool(await self._mark(keys=keys, args=args))

    async def deregister(self, service: str, instance_id: str) -> bool:
        keys = [_alive(service), _records(service)]
        return bool(await self._remove(keys=keys, args=[instance_id, service, CHANNEL]))

    async def instances(self, service: str) -> list[Instance]:
        """Every unexpired instance of `service`, healthy or not."""
        reply = await self._live(keys=[_alive(service), _records(service)], args=[service, CHANNEL])
        return _parse_live(reply)

    async def discover(self, service: str) -> list[Instance]:
        """The healthy, unexpired instances of `service`."""
        return [i for i in await self.instances(service) if i.healthy]

    async def services(self) -> list[str]:
        names = await self.redis.smembers(SERVICES)
        return sorted(n.decode() if isinstance(n, bytes) else str(n) for n in names)

    async def snapshot(self) -> dict[str, list[Instance]]:
        """Every service's unexpired instances, in one pipelined round trip after SMEMBERS."""
        names = await self.services()
        if not names:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                await self._live(
                    keys=[_alive(name), _records(name)], args=[name, CHANNEL], client=pipe
                )
            replies = await pipe.execute()
        return {name: _parse_live(reply) for name, reply in zip(names, replies, strict=True)}


def _parse_live(reply: list[bytes]) -> list[Instance]:
    found = []
    for index in range(1, len(reply), 2):
        expires_ms = float(reply[index])
        record = _decode_record(reply[index + 1])
        found.append(
            msgspec.structs.replace(
                record,
                last_seen=(expires_ms - record.ttl_ms) / 1000,
                expires_at=expires_ms / 1000,
            )
        )
    found.sort(key=lambda i: i.instance_id)
    return found
