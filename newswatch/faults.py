"""Named fault-injection points, for the crash tests only.

`NEWSWATCH_FAULT=<point>` makes the process SIGKILL itself the first time it
reaches `<point>`; `<point>@N` waits for the N-th time. Nothing happens when
the variable is unset, which is always the case outside tests: these hooks
exist so the kill test can stop the daemon at an exact place instead of at a
lucky moment. The points:

    after_claim   the sender has leased rows and committed the lease
    during_send   a request to the backend is in flight (a timer fires
                  NEWSWATCH_FAULT_DELAY seconds, default 0.3, after it started)
    after_send    the backend accepted (2xx) but the outbox row is not yet updated
    mid_digest    a digest row is built and its alerts marked, not yet committed
    mid_crawl     an article and its alerts are added, not yet committed
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

ENV = "NEWSWATCH_FAULT"
DELAY_ENV = "NEWSWATCH_FAULT_DELAY"
POINTS = frozenset({"after_claim", "during_send", "after_send", "mid_digest", "mid_crawl"})

_hits: Counter[str] = Counter()
_lock = threading.Lock()


def _armed(point: str) -> bool:
    spec = os.environ.get(ENV)
    if not spec:
        return False
    name, _, nth = spec.partition("@")
    if name != point:
        return False
    with _lock:
        _hits[point] += 1
        return _hits[point] == int(nth or 1)


def fault(point: str) -> None:
    """SIGKILL this process here if NEWSWATCH_FAULT names `point` (test-only)."""
    if _armed(point):
        _die(point)


@contextmanager
def fault_timer(point: str) -> Iterator[None]:
    """SIGKILL the process if the block is still running after the delay (test-only).

    Armed on every pass, not only the N-th: with several sends in flight, the
    slow one is whichever the server chose, not the first to get here.
    """
    spec = os.environ.get(ENV) or ""
    if spec.partition("@")[0] != point:
        yield
        return
    timer = threading.Timer(float(os.environ.get(DELAY_ENV) or 0.3), _die, args=(point,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _die(point: str) -> None:
    # Written straight to stderr: the kill must not wait for log handlers.
    sys.stderr.write(f"newswatch: fault injection: SIGKILL at {point}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
