"""The text constraints every service uses: full matches, no control characters, and an e-mail
address that the e-mail library itself reads as exactly one addr-spec."""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.policy import SMTP

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from shop.runtime.text import EMAIL_PATTERN, LINE_PATTERN, PARAGRAPH_PATTERN, Email

ATOMS = st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,8}", fullmatch=True)
LABELS = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
TLDS = st.from_regex(r"[A-Za-z]{2,6}", fullmatch=True)
ADDRESSES = st.builds(
    lambda atoms, labels, tld: ".".join(atoms) + "@" + ".".join([*labels, tld]),
    st.lists(ATOMS, min_size=1, max_size=4),
    st.lists(LABELS, min_size=1, max_size=3),
    TLDS,
)
CONTROL = st.sampled_from([chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]])


@settings(max_examples=300, database=None)
@given(ADDRESSES)
def test_every_accepted_address_is_exactly_one_addr_spec_to_the_email_library(
    address: str,
) -> None:
    assert re.search(EMAIL_PATTERN, address)
    assert msgspec.convert(address, Email) == address
    assert Address(addr_spec=address).addr_spec == address
    header = SMTP.header_factory("To", address)
    assert [a.addr_spec for a in header.addresses] == [address]
    assert not header.defects


@settings(max_examples=300, database=None)
@given(st.text(max_size=20), CONTROL, st.text(max_size=20))
def test_no_line_or_address_holds_a_control_character(
    before: str, control: str, after: str
) -> None:
    text = before + control + after
    assert not re.search(LINE_PATTERN, text)
    assert not re.search(EMAIL_PATTERN, text)
    if control not in "\t\n":
        assert not re.search(PARAGRAPH_PATTERN, text)


def test_a_trailing_newline_does_not_satisfy_a_pattern() -> None:
    for pattern, good in [(LINE_PATTERN, "ann"), (EMAIL_PATTERN, "bob@example.com")]:
        assert re.search(pattern, good)
        assert not re.search(pattern, good + "\n")


def test_lists_display_names_and_quoted_parts_are_not_addresses() -> None:
    for hostile in [
        "a@b.cc,root",
        "a@b.cc, c@d.ee",
        "Bob <bob@example.com>",
        '"a b"@example.com',
        "a@b.cc (comment)",
        "a@localhost",
        "a..b@example.com",
        "@example.com",
        "a@-example.com",
    ]:
        assert not re.search(EMAIL_PATTERN, hostile), hostile
