#!/usr/bin/env python3
"""Measures preloadd's memory while it keeps a burst of distinct pages.

    scripts/rss_burst.py BINARY [--pages 1500] [--clients 32] [--compress true|false]

starts an app on 127.0.0.1 serving PAGES distinct HTML pages of 20-100 KiB
(random words: they compress about 3:1, like real pages), starts BINARY in
front of it with `memory = "2MiB"`, asks for every page once through
`/_preload/` with CLIENTS keep-alive clients (Accept-Encoding: gzip, br),
and prints the daemon's VmHWM (peak RSS), its VmRSS at the end and a
sample every 2 s, read from /proc/PID/status. Extra environment for the
daemon (MALLOC_ARENA_MAX=1, LD_PRELOAD=...) is passed through.

Only the standard library.
"""
import argparse
import http.client
import http.server
import random
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def page(n, vocab):
    r = random.Random(n)
    size = r.randint(20 * 1024, 100 * 1024)
    parts, total = ["<html><body>"], 12
    while total < size:
        words = " ".join(r.choice(vocab) for _ in range(12))
        line = f'<p class="c{r.randint(0, 99)}">{words} {r.random()}</p>\n'
        parts.append(line)
        total += len(line)
    return "".join(parts).encode()[:size]


def start_app(pages):
    r = random.Random(1)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(r.choice(letters) for _ in range(r.randint(2, 10))) for _ in range(5000)]
    bodies = {n: page(n, vocab) for n in range(pages)}

    class App(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            tail = self.path.rsplit("/", 1)[-1]
            body = bodies.get(int(tail) if tail.isdigit() else -1, b"<html></html>")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def vm_mib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field):
            return int(line.split()[1]) // 1024
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--pages", type=int, default=1500)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--compress", default="true", choices=["true", "false"])
    args = ap.parse_args()

    app_port = start_app(args.pages)
    work = Path(tempfile.mkdtemp(prefix="rss-burst-"))
    config = work / "preload.toml"
    config.write_text(
        f'[server]\nlisten = "127.0.0.1:0"\nadmin_listen = ""\n\n'
        f'[upstream]\nurl = "http://127.0.0.1:{app_port}"\n\n'
        f'[cache]\ndir = "{work / "cache"}"\nmemory = "2MiB"\ncompress = {args.compress}\n'
    )
    daemon = subprocess.Popen(
        [args.binary, "--config", str(config), "--log-level", "info"],
        stderr=subprocess.PIPE, text=True,
    )
    port = None
    for line in daemon.stderr:
        if "preloadd started" in line:
            port = int(line.split(" listen=http://")[1].split()[0].split(",")[0].rsplit(":", 1)[1])
            break
    if port is None:
        sys.exit("preloadd did not start")
    threading.Thread(target=lambda: [None for _ in daemon.stderr], daemon=True).start()

    lock, counter, results, done = threading.Lock(), [0], {}, [False]
    samples = []

    def sample():
        start = time.time()
        while not done[0]:
            if time.time() - start >= 2 * len(samples) + 2:
                samples.append(vm_mib(daemon.pid, "VmRSS:"))
            time.sleep(0.05)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                n = counter[0]
                counter[0] += 1
            if n >= args.pages:
                return
            conn.request("GET", f"/_preload/p/{n}", headers={"Accept-Encoding": "gzip, br"})
            reply = conn.getresponse()
            reply.read()
            result = reply.getheader("X-Preload-Cache") or str(reply.status)
            with lock:
                results[result] = results.get(result, 0) + 1

    start = time.time()
    sampler = threading.Thread(target=sample)
    sampler.start()
    clients = [threading.Thread(target=client) for _ in range(args.clients)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    done[0] = True
    sampler.join()
    print(
        f"{args.pages} pages, {args.clients} clients, compress = {args.compress}: "
        f"{time.time() - start:.1f} s, {results}; VmHWM {vm_mib(daemon.pid, 'VmHWM:')} MiB, "
        f"VmRSS at the end {vm_mib(daemon.pid, 'VmRSS:')} MiB; every 2 s: {samples}"
    )
    daemon.terminate()
    daemon.wait()
    subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
