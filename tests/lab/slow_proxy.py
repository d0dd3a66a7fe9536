"""A slow emulator for liveness tests: an HTTP proxy in front of the lab that answers late.

It plays the emulator on a busy machine: its own endpoints (``/moto-api/…``) answer after
``moto_api_delay`` seconds, more than the 1-second probe ircli once used, and the state dump
(``/moto-api/data.json``, megabytes after an exercise) after ``dump_delay``. AWS API calls pass
at once, so a whole tabletop exercise can still run through it.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class SlowProxy:
    def __init__(self, upstream_port: int, moto_api_delay: float = 1.5,
                 dump_delay: float = 6.0) -> None:
        self.upstream_port = upstream_port
        self.moto_api_delay = moto_api_delay
        self.dump_delay = dump_delay
        self.requests: list[str] = []
        self._closing = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _forward(self) -> None:
                proxy.requests.append(self.path)
                if self.path.startswith("/moto-api/data.json"):
                    proxy._closing.wait(proxy.dump_delay)
                elif self.path.startswith("/moto-api/"):
                    proxy._closing.wait(proxy.moto_api_delay)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port,
                                                      timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    resp = upstream.getresponse()
                    data = resp.read()
                finally:
                    upstream.close()
                self.send_response(resp.status, resp.reason)
                for key, value in resp.getheaders():
                    if key.lower() not in _HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SlowProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
