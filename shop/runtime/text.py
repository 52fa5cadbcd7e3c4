"""Text the services accept, as msgspec constraints.

msgspec's `pattern` is `re.search`, where `$` also matches before a trailing newline, so every
pattern here is anchored with `\\A...\\Z`. No text admits NUL (PostgreSQL cannot store it) or other
control characters (C0, DEL, C1), except `Paragraph`, which keeps tab and newline.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
_CONTROL_BUT_TAB_AND_NEWLINE = "\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f"
LINE_PATTERN = f"\\A[^{_CONTROL}]*\\Z"
PARAGRAPH_PATTERN = f"\\A[^{_CONTROL_BUT_TAB_AND_NEWLINE}]*\\Z"
# One RFC 5322 addr-spec, nothing around it: a dot-atom local part at a host name with a TLD.
# No display name, no quoted local part, no comments, no list: exactly one mailbox.
_ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LOCAL_PART = f"(?=[^@]{{1,64}}@){_ATEXT}+(?:\\.{_ATEXT}+)*"
EMAIL_PATTERN = f"\\A{_LOCAL_PART}@(?:{_LABEL}\\.)+[A-Za-z]{{2,63}}\\Z"
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=EMAIL_PATTERN)]
