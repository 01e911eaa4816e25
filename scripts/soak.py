#!/usr/bin/env python3
"""Purges under concurrent load, with kill -9 cycles: no HIT is ever older
than an acknowledged purge.

    scripts/soak.py --preloadd target/release/preloadd [--duration 60]
                    [--pages 200] [--clients 8] [--kill-every 5] [--purge-pause 0.005]

Everything runs on 127.0.0.1 and ends within --duration (plus a few seconds
to stop). An app in this process numbers every page it renders with one
global sequence; visitors read the number back from each body. Before a
purge is sent, the tester notes the sequence reached so far; once the purge
is acknowledged (200), every page it names has that number as its floor. A
request sent after the acknowledgement that comes back as a HIT with a
number at or below the floor is a page the purge should have dropped: a
violation. (A fetch the app renders after the note may still be older than
the purge and goes unseen, so the check never accuses wrongly, and misses
at most such a race.) Soft purges take part: after one, the page may be
STALE, never a HIT, until it was fetched again. Every few seconds the
daemon is killed with SIGKILL and started again on the same cache dir; the
floors survive that, since the promise is that a restart brings no purged
page back.

Exit status: 0 with no violation, 1 with any, 2 on a setup error.
"""

import argparse
import http.client
import http.server
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

GROUPS = 10


class App:
    """The upstream: /p/N renders "page N seq S" with tags page-N, group-G."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seq = 0
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                match = re.fullmatch(r"/p/(\d+)/", self.path)
                if not match:
                    self.send_error(404)
                    return
                n = int(match.group(1))
                with app.lock:
                    app.seq += 1
                    seq = app.seq
                body = f"page {n} seq {seq}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Preload-Tags", f"page-{n}, group-{n % GROUPS}")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # The daemon is killed on purpose: its connections reset.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def port(self):
        return self.server.server_address[1]

    def sequence(self):
        with self.lock:
            return self.seq


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """The daemon on fixed ports, so that a restart is found where it was."""

    def __init__(self, binary, app_port, workdir):
        self.binary = binary
        self.main = free_port()
        self.admin = free_port()
        self.config = os.path.join(workdir, "preload.toml")
        with open(self.config, "w") as f:
            f.write(
                f'[server]\nlisten = "127.0.0.1:{self.main}"\n'
                f'admin_listen = "127.0.0.1:{self.admin}"\n'
                f'[upstream]\nurl = "http://127.0.0.1:{app_port}"\n'
                f'[cache]\ndir = "{os.path.join(workdir, "cache")}"\ngrace = "1h"\n'
            )
        self.log = open(os.path.join(workdir, "daemon.log"), "ab")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "--config", self.config, "--log-level", "warn"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"soak: the daemon exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.admin), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise SystemExit("soak: the daemon did not start within 30 s")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.violations = []

    def add(self, name, n=1):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + n

    def violation(self, text):
        with self.lock:
            self.violations.append(text)


def visitor(daemon, floors, pages, tally, stop):
    conn = None
    while not stop.is_set():
        n = random.randrange(pages)
        floor = floors.get(n)
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", daemon.main, timeout=10)
            conn.request("GET", f"/_preload/p/{n}/")
            res = conn.getresponse()
            body = res.read().decode(errors="replace")
        except (OSError, http.client.HTTPException):
            tally.add("request errors (daemon down)")
            conn = None
            time.sleep(0.01)
            continue
        cache = res.getheader("X-Preload-Cache", "-")
        reason = res.getheader("X-Preload-Reason")
        tally.add(f"answers {cache} ({reason})" if reason else f"answers {cache}")
        match = re.search(r"seq (\d+)", body)
        if cache == "HIT" and match and int(match.group(1)) <= floor:
            tally.violation(f"/p/{n}/ HIT seq {match.group(1)} at or below the floor {floor}")


class Floors:
    """Per page: the app's sequence before the last acknowledged purge."""

    def __init__(self, pages):
        self.lock = threading.Lock()
        self.floor = [0] * pages

    def get(self, n):
        with self.lock:
            return self.floor[n]

    def raise_to(self, pages, value):
        with self.lock:
            for n in pages:
                self.floor[n] = max(self.floor[n], value)


def a_purge(pages):
    """A random selector and the pages it names."""
    kind = random.choice(["url", "tag", "group", "prefix"])
    soft = random.random() < 0.25
    n = random.randrange(pages)
    if kind == "url":
        body, named = {"urls": [f"/p/{n}/"]}, [n]
    elif kind == "tag":
        body, named = {"tags": [f"page-{n}"]}, [n]
    elif kind == "group":
        g = n % GROUPS
        body, named = {"tags": [f"group-{g}"]}, [p for p in range(pages) if p % GROUPS == g]
    else:
        # /p/1 names /p/1/, /p/10/ ... /p/19/, /p/100/ ...
        body = {"prefixes": [f"/p/{n}"]}
        named = [p for p in range(pages) if str(p).startswith(str(n))]
    body["soft"] = soft
    return body, named, soft


def purger(daemon, app, floors, pages, tally, stop, pause):
    while not stop.is_set():
        body, named, soft = a_purge(pages)
        before = app.sequence()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", daemon.admin, timeout=10)
            conn.request("POST", "/_invalidate", json.dumps(body), {"Content-Type": "application/json"})
            res = conn.getresponse()
            res.read()
            conn.close()
        except (OSError, http.client.HTTPException):
            tally.add("purges unanswered (daemon down)")
            time.sleep(0.01)
            continue
        if res.status == 200:
            floors.raise_to(named, before)
            tally.add("purges acknowledged (soft)" if soft else "purges acknowledged")
        else:
            tally.add(f"purges answered {res.status}")
        time.sleep(pause)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preloadd", required=True, help="the daemon's binary")
    ap.add_argument("--duration", type=float, default=60, help="seconds of load [60]")
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--purge-pause", type=float, default=0.005, help="seconds between purges [0.005]")
    ap.add_argument("--kill-every", type=float, default=5, help="seconds between kill -9 [5]; 0: never")
    args = ap.parse_args()
    if not os.access(args.preloadd, os.X_OK):
        print(f"soak: {args.preloadd} is not an executable", file=sys.stderr)
        return 2

    app = App()
    with tempfile.TemporaryDirectory(prefix="preloadd-soak-") as workdir:
        daemon = Daemon(args.preloadd, app.port(), workdir)
        daemon.start()
        floors, tally, stop = Floors(args.pages), Tally(), threading.Event()
        threads = [
            threading.Thread(target=visitor, args=(daemon, floors, args.pages, tally, stop))
            for _ in range(args.clients)
        ]
        threads.append(threading.Thread(target=purger, args=(daemon, app, floors, args.pages, tally, stop, args.purge_pause)))
        for t in threads:
            t.start()
        end = time.monotonic() + args.duration
        kills = 0
        try:
            while time.monotonic() < end:
                time.sleep(min(args.kill_every or args.duration, max(0, end - time.monotonic())))
                if args.kill_every and time.monotonic() < end:
                    daemon.kill9()
                    kills += 1
                    daemon.start()
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=15)
            daemon.stop()
    tally.counts["kill -9 cycles"] = kills
    tally.counts["app renders"] = app.sequence()
    tally.counts["violations"] = len(tally.violations)
    width = max(len(k) for k in tally.counts)
    for name in sorted(tally.counts):
        print(f"{name:<{width}}  {tally.counts[name]}")
    for v in tally.violations[:20]:
        print(f"VIOLATION: {v}")
    return 1 if tally.violations else 0


if __name__ == "__main__":
    sys.exit(main())
