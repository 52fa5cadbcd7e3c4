"""Children of `shop up` that die with it: a SIGKILL of `shop up` alone (no Ctrl-C, no cleanup)
must not leave its instances and its Redis running, holding ports and the data directory.

On Linux each child asks the kernel for a SIGTERM when its parent dies (prctl
PR_SET_PDEATHSIG), set between fork and exec, so it is in place before the child runs any of
our code; a SIGTERM makes an instance deregister and drain as on Ctrl-C. Elsewhere (macOS) there
is no such call and nothing is set: `shop up`'s own stop still stops them.

The kernel sends the signal when the *thread* that forked the child exits; `shop up` forks from
its event loop, the main thread, which lives as long as the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, loaded in the parent (never between fork and exec), or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    prctl: Callable[..., int] = libc.prctl
    return prctl


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive `sig` when this process dies (None: the
    platform has no way to ask for it)."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:  # in the child, between fork and exec: async-signal-safe calls only
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request was in place
            os._exit(1)

    return preexec
