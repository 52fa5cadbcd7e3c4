"""What a function has loaded once it is started (its lifespan done, its server configured):
nothing that only some requests need. Each of these cost a scale-to-zero function its cold
start: argon2 until the first password hash, PyJWT until the first token signed or verified,
httpx and OpenTelemetry unless configured, the CloudEvents SDK until the first event, asyncpg
unless the database is PostgreSQL, aiosmtplib until the first mail, a WebSocket library never.
Fresh interpreters (module imports are what is tested); no timing is asserted here, the runtime
benchmark measures it."""

from __future__ import annotations

import pytest

from shop.runtime.catalog import FUNCTIONS
from tests.support.processes import run_python

DEFERRED = (
    "argon2",
    "jwt",
    "httpx",
    "opentelemetry",
    "cloudevents",
    "asyncpg",
    "aiosmtplib",
    "wsproto",
    "websockets",
)

STARTED = """
import asyncio, importlib, json, os, sys, tempfile
data = tempfile.TemporaryDirectory()
os.environ.clear()  # every default: SQLite, no Redis, no broker, no tracing
os.environ["SHOP_DATA_DIR"] = data.name
app = importlib.import_module("functions.%(name)s.app").create_app()

async def start_and_stop():
    inbox = asyncio.Queue()
    answers = []

    async def send(message):
        answers.append(message["type"])

    await inbox.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(app({"type": "lifespan", "state": {}}, inbox.get, send))
    while not answers:
        await asyncio.sleep(0.01)
    from shop.runtime.server import config_for
    from shop.runtime.service import runtime_of
    config_for(app, runtime_of(app).settings).load()  # the server's protocols, as it starts
    loaded = sorted(name for name in %(deferred)r if name in sys.modules)
    await inbox.put({"type": "lifespan.shutdown"})
    await lifespan
    return answers[0], loaded

started, loaded = asyncio.run(start_and_stop())
print(json.dumps({"started": started, "loaded": loaded}))
"""


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_started_function_has_loaded_nothing_only_some_requests_need(name: str) -> None:
    found = run_python(STARTED % {"name": name, "deferred": DEFERRED})

    assert found == {"started": "lifespan.startup.complete", "loaded": []}
