"""A stand-in for the daemon's admin listener: records each webhook POST
and answers with the statuses a test lists (200 once they run out)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeDaemon:
    def __init__(self, statuses=(), delay=0.0):
        self.requests = []
        self.statuses = list(statuses)
        self.delay = delay
        self.lock = threading.Lock()
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                with daemon.lock:
                    daemon.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)}
                    )
                    status = daemon.statuses.pop(0) if daemon.statuses else 200
                time.sleep(daemon.delay)
                answer = (
                    json.dumps({"invalidated": 3}) if status == 200 else "invalidation not durable"
                ).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (the timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def bodies(self):
        with self.lock:
            return [r["body"] for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def refused_url():
    """An address where nothing listens: a port just freed."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"
