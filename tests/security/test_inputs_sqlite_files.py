"""Issue 10, "also": the SQLite files (accounts, password hashes, orders) were 0644, readable by
every local user; they are 0600 like the secrets beside them, the -wal and -shm files too."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from shop.db.sqlite import SqliteDatabase


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The usual umask (022), which makes new files 0644 unless the code says otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes(directory: Path) -> dict[str, int]:
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in directory.iterdir()}


async def written(path: Path) -> SqliteDatabase:
    database = await SqliteDatabase.open(str(path))
    async with database.transaction() as tx:
        await tx.execute("CREATE TABLE IF NOT EXISTS t (x TEXT)")
        await tx.execute("INSERT INTO t VALUES ($1)", "secret")
    return database


async def test_a_new_database_and_its_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    database = await written(tmp_path / "data" / "users.db")
    try:
        assert modes(tmp_path / "data") == {
            "users.db": 0o600,
            "users.db-wal": 0o600,
            "users.db-shm": 0o600,
        }
        assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    finally:
        await database.close()


async def test_a_database_left_readable_by_others_is_made_private_when_opened(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.db"
    await (await written(path)).close()
    for name in ("orders.db", "orders.db-wal", "orders.db-shm"):
        if (tmp_path / name).exists():
            (tmp_path / name).chmod(0o644)
    database = await written(path)
    try:
        assert set(modes(tmp_path).values()) == {0o600}
        assert "orders.db" in modes(tmp_path)
    finally:
        await database.close()
