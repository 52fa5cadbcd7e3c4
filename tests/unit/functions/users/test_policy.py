from __future__ import annotations

import pytest

from functions.users.blocklist import CommonPasswords, common_passwords
from functions.users.policy import PasswordPolicy

POLICY = PasswordPolicy(common_passwords())

REFUSED = [
    ("aaaaaaaaaaaa", "repeats"),  # 12 identical characters (issue 10)
    ("abcabcabcabc", "repeats"),
    ("abcdefghijkl", "sequence"),
    ("987654321098", "sequence"),
    ("aaaabbbbcccc", "different characters"),
    ("password1234", "commonly used"),
    ("Password!2024", "commonly used"),
    ("q1w2e3r4t5y6", "commonly used"),
    ("1qaz2wsx3edc", "commonly used"),
    ("alice-wonderland", "username"),
    ("mail.for.alice.x", "username"),  # the e-mail's local part
    ("shop12345678!!", "service name"),
    ("short pw", "at least 12"),
]


@pytest.mark.parametrize(("password", "why"), REFUSED)
def test_weak_passwords_are_refused_with_a_reason(password: str, why: str) -> None:
    reason = POLICY.weakness(password, username="alice", email="mail.for.alice.x@example.com")
    assert reason is not None
    assert why in reason


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "Tr0ub4dor & 3 horses", "ünïcödé päss phrase", "x9#Lq2!vR7@m"],
)
def test_long_uncommon_passwords_of_any_characters_are_accepted(password: str) -> None:
    assert POLICY.weakness(password, username="alice", email="alice@example.com") is None


def test_the_shipped_list_is_the_twenty_thousand_lowercased_common_passwords() -> None:
    common = common_passwords()
    assert 19_000 < len(common) <= 20_000
    assert {"123456", "password", "qwertyuiop"} <= common
    assert all(p == p.lower() for p in common)


def test_the_list_is_read_at_the_first_check_not_before() -> None:
    common_passwords.cache_clear()
    policy = PasswordPolicy(CommonPasswords())
    assert common_passwords.cache_info().currsize == 0  # nothing read at start-up
    assert policy.weakness("password1234", username="someone", email="s@example.com")
    assert common_passwords.cache_info().currsize == 1
