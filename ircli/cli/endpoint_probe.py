"""Fail in a moment, with the fix, when AWS_ENDPOINT_URL points at a local emulator that is down.

Without this, botocore retries the refused connection with back-off for about 9 s and the
error never says that the lab is simply not running. Only loopback endpoints are probed (one
TCP connect, no AWS call); real AWS endpoints are left to botocore.
"""

from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlsplit

from ircli.core.errors import ServiceUnreachable

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_local_endpoint(endpoint_url: str | None = None) -> None:
    """Raise :class:`ServiceUnreachable` when a loopback endpoint does not accept connections."""
    url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if url:
        _probe(url)


@functools.lru_cache(maxsize=8)
def _probe(url: str) -> None:
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=1.0).close()
    except OSError as err:
        raise ServiceUnreachable(
            f"Nothing answers at {url} (AWS_ENDPOINT_URL): the local lab or emulator is not "
            "running.",
            'Start it with `ircli lab up` (then `eval "$(ircli lab env)"`), or unset '
            "AWS_ENDPOINT_URL to reach AWS.") from err
