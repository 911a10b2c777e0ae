"""The HTTP side of a worker: `/metrics` for Prometheus, `/healthz` and `/readyz` from the
heartbeat. A thread of its own, so a scrape never waits for the event loop (and a stuck loop
shows as a stale heartbeat instead of a probe timeout)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from reservesync.heartbeat import Heartbeat

ROUTES = ("/metrics", "/healthz", "/readyz")


class ProbeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, host: str, port: int, service: str, heartbeat: Heartbeat, max_silence_s: float
    ) -> None:
        super().__init__((host, port), _ProbeHandler)
        self.service = service
        self.heartbeat = heartbeat
        self.max_silence_s = max_silence_s

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, name="probe-server", daemon=True).start()


class _ProbeHandler(BaseHTTPRequestHandler):
    server: ProbeServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)
            return
        if path not in ROUTES:
            self._answer(404, b"not found: /metrics, /healthz or /readyz\n")
            return
        pulse = self.server.heartbeat.pulse(self.server.service, self.server.max_silence_s)
        ok = pulse.alive if path == "/healthz" else pulse.ready
        self._answer(200 if ok else 503, f"{pulse.line}\n".encode())

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Probes every few seconds are not worth a log line each."""
