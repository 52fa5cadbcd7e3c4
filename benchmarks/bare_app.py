"""The baseline for cold start and memory: a bare Litestar app on uvicorn, nothing else."""

from litestar import Litestar, get


@get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


app = Litestar([ready])
