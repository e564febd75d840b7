"""
The latency of a remote EC2 for the benchmarks: an HTTP proxy on 127.0.0.1
that holds every request for the same fixed time, then forwards it to one
target (a moto server) and relays the answer.

moto answers on the loopback in a few milliseconds, while AWS answers in tens
or hundreds: without added latency, calls that a daemon makes in parallel
would only queue for the one emulator process and its two cores, and no
benchmark could show that they overlap.  Each connection gets a thread of
its own (and keeps its own connection to the target), so requests made at
the same time are held at the same time.

C{GET /delay-proxy/calls} is answered by the proxy itself (no EC2 call is a
GET): a JSON object counting the calls forwarded so far by name (the EC2
C{Action} of a query-protocol call, the C{X-Amz-Target} of a JSON one).

It prints one JSON line (its port) once listening, and stops when its stdin
closes.

    python -m bench.delayproxy --target http://127.0.0.1:PORT [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: The path the proxy answers itself, with the count of calls forwarded.
CALLS_PATH = "/delay-proxy/calls"

#: Headers that belong to one hop (RFC 9110 section 7.6.1) or that the proxy sets itself.
_HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                          "transfer-encoding", "upgrade", "content-length"})


def call_name(headers, body: bytes) -> str:
    """The EC2 C{Action} of a query-protocol call, else its C{X-Amz-Target}, else C{?}."""
    target = headers.get("X-Amz-Target")
    if target:
        return target
    form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"))
    return form.get("Action", ["?"])[0]


class CallCounter:
    """The calls forwarded, by name; shared by every connection's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()

    def add(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def handler_class(target: str, latency: float, counter: CallCounter):
    """
    The request handler of a proxy holding every request C{latency}
    seconds before forwarding it to C{target} (C{http://host:port}).
    """
    address = urllib.parse.urlsplit(target).netloc

    class DelayingHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        #: The headers and the body of an answer go in two writes: send each at once.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            self.upstream = http.client.HTTPConnection(address, timeout=60)

        def finish(self) -> None:
            self.upstream.close()
            super().finish()

        def do_GET(self) -> None:
            if self.path == CALLS_PATH:
                self.answer(200, [("Content-Type", "application/json")],
                            json.dumps(counter.snapshot()).encode())
            else:
                self.forward()

        def do_POST(self) -> None:
            self.forward()

        def forward(self) -> None:
            """Hold the request, send it to the target on this thread's connection, relay the answer."""
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            counter.add(call_name(self.headers, body))
            time.sleep(latency)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            self.upstream.request(self.command, self.path, body=body, headers=headers)
            response = self.upstream.getresponse()
            answer = response.read()
            if response.will_close:
                self.upstream.close()
            self.answer(response.status, [(k, v) for k, v in response.getheaders()
                                          if k.lower() not in _HOP_HEADERS], answer)

        def answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response_only(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:
            """Quiet: one line per call would cost more than the call."""

    return DelayingHandler


class ProxyServer(ThreadingHTTPServer):
    """One thread per connection, which ends with the process; a deep accept queue."""

    daemon_threads = True
    request_queue_size = 128


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", required=True, help="the server to forward to, http://host:port")
    parser.add_argument("--latency-ms", type=float, default=100.0,
                        help="milliseconds every request is held before it is forwarded")
    args = parser.parse_args(argv)
    handler = handler_class(args.target, args.latency_ms / 1000, CallCounter())
    server = ProxyServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
