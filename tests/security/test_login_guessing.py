"""Issue 10, items 2 and 6: guessing passwords without limit, and locking the owner out."""

from __future__ import annotations

from devtools.served import Served
from tests.security.users import client, log_in, sign_up

ATTACKER = "127.0.0.2"
OWNER = "127.0.0.9"


def test_forty_wrong_passwords_then_the_right_one_is_refused_not_a_token(
    serve_users: Served,
) -> None:
    with client(serve_users.url, OWNER) as owner, client(serve_users.url, ATTACKER) as attacker:
        assert sign_up(owner, "victim").status_code == 201
        answers = [log_in(attacker, "victim", f"guess number {n}").status_code for n in range(40)]
        assert set(answers[:5]) == {401}
        assert set(answers[5:]) == {429}
        right = log_in(attacker, "victim")
        assert right.status_code == 429
        assert "access_token" not in right.text
        assert int(right.headers["retry-after"]) >= 1
        assert right.headers["content-type"].startswith("application/problem+json")


def test_the_owner_logs_in_from_a_clean_client_while_other_addresses_attack(
    serve_users: Served,
) -> None:
    attackers = [f"127.0.0.{n}" for n in range(10, 16)]
    with client(serve_users.url, OWNER) as owner:
        assert sign_up(owner, "owner").status_code == 201
        for address in attackers:  # 5 wrong passwords from each of 6 rotating addresses
            with client(serve_users.url, address) as attacker:
                for n in range(5):
                    assert log_in(attacker, "owner", f"wrong {n}").status_code in (401, 429)
                assert log_in(attacker, "owner").status_code == 429  # held back: not a token
        login = log_in(owner, "owner")
        assert login.status_code == 200, login.text
        assert login.json()["access_token"]
