"""Interrupts are never lost: a record of the interrupts the command line was sent.

A library may catch a ``KeyboardInterrupt`` and drop it (a C extension that checks for signals
and clears the error, a broad ``except`` in an import): an interrupt sent while simfl starts
could then vanish, and the run would go on to its end. The command line's handler for SIGINT
and SIGTERM (:func:`raise_interrupt`) therefore records each interrupt before raising it, and
the engine, when it takes the signals over at the start of a run, stops that run at once if an
interrupt was recorded (:func:`requested`). A program that does not use the command line
(``simfl.run`` in a notebook) installs no such handler and records nothing.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

__all__ = ["raise_interrupt", "requested", "recorded"]

_requested = threading.Event()


def raise_interrupt(signum, frame) -> None:
    """Record an interrupt, then raise it as ``KeyboardInterrupt`` (SIGINT's default behaviour)."""
    _requested.set()
    raise KeyboardInterrupt


def requested() -> bool:
    """True once an interrupt was recorded in this process."""
    return _requested.is_set()


@contextmanager
def recorded() -> Iterator[None]:
    """Within: SIGINT and SIGTERM are handled by :func:`raise_interrupt`. On leaving, the handlers
    before are restored and the record is cleared (the next command starts with none). Off the
    main thread, where signals cannot be handled, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()
    previous = {signum: signal.signal(signum, raise_interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not None:  # None: a handler installed outside Python, left alone
                signal.signal(signum, handler)
        _requested.clear()
