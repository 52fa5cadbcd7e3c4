"""The users table, through the persistence port."""

from __future__ import annotations

from functions.users.model import User
from shop.db import Row, Transaction

COLUMNS = "id, username, email, role, created_us, password_hash"


def _user(row: Row | None) -> User | None:
    return None if row is None else User(**dict(row))


async def insert(tx: Transaction, user: User) -> bool:
    """False when the username or the email is already taken."""
    inserted = await tx.fetchval(
        f"INSERT INTO users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"  # noqa: S608
        " ON CONFLICT DO NOTHING RETURNING id",
        user.id,
        user.username,
        user.email,
        user.role,
        user.created_us,
        user.password_hash,
    )
    return inserted is not None


async def taken(tx: Transaction, username: str, email: str) -> list[str]:
    rows = await tx.fetch(
        "SELECT username, email FROM users WHERE username = $1 OR email = $2", username, email
    )
    fields = set()
    for row in rows:
        if row["username"] == username:
            fields.add("username")
        if row["email"] == email:
            fields.add("email")
    return sorted(fields)


async def by_username(tx: Transaction, username: str) -> User | None:
    return _user(await tx.fetchrow(f"SELECT {COLUMNS} FROM users WHERE username = $1", username))  # noqa: S608


async def by_id(tx: Transaction, user_id: str) -> User | None:
    return _user(await tx.fetchrow(f"SELECT {COLUMNS} FROM users WHERE id = $1", user_id))  # noqa: S608


async def set_password_hash(tx: Transaction, user_id: str, password_hash: str) -> None:
    await tx.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)
