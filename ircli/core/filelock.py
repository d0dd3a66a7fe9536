"""An exclusive, non-blocking lock on an open file, on POSIX and on Windows.

POSIX uses ``fcntl.flock``; Windows (a responder's laptop), which has no ``fcntl``, uses
``msvcrt.locking`` on the file's first byte. Either way the lock belongs to the open file and
ends when it is unlocked or closed (also when the process dies), so a crashed run never leaves
a case locked. Only the module the platform has is imported: ``import ircli`` works on both.
"""

from __future__ import annotations

import contextlib
import errno
from typing import IO, Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt as _msvcrt

    msvcrt: Any = _msvcrt
else:
    msvcrt = None

# Windows answers a held lock with one of these (LK_NBLCK tries once, it does not wait).
_BUSY = {errno.EACCES, errno.EAGAIN, errno.EDEADLK}


def lock(fh: IO[Any]) -> None:
    """Take the lock or raise :class:`BlockingIOError` at once when another holder has it."""
    if fcntl is not None:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    fh.seek(0)
    try:
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError as err:
        if err.errno in _BUSY:
            raise BlockingIOError(err.errno, "the file is locked by another process") from err
        raise


def unlock(fh: IO[Any]) -> None:
    """Release the lock (closing the file releases it too; Windows asks for this first)."""
    if fcntl is not None:
        fcntl.flock(fh, fcntl.LOCK_UN)
        return
    fh.seek(0)
    with contextlib.suppress(OSError):  # not locked by this handle: nothing to release
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
