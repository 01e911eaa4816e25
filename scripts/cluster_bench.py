#!/usr/bin/env python3
"""Invalidation propagation across a [cluster] of three nodes on loopback.

    scripts/cluster_bench.py [--binary target/release/preloadd] [-n 1000]

Starts its own redis-server (no persistence) and three daemons (A, B, C)
with [cluster] on it, plus a fourth (D) without [cluster]. For each of N
webhooks to A it takes the time from sending the POST until B's and C's
`/_preloadd/health` show the entry applied (`cluster.applied`), polled on
a kept connection, so each figure is the real propagation plus at most
one poll (~0.2 ms here). Then it times N webhooks to A against N to D: the
cost of publishing before the reply. Prints p50 / p90 / p99 / max in ms.
Everything listens on 127.0.0.1 and is stopped by pid.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, within=30.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"cluster_bench: {what} did not happen within {within} s")


class Node:
    def __init__(self, binary, root, name, redis_url):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.main, self.admin = free_port(), free_port()
        cluster = ""
        if redis_url:
            cluster = f'[cluster]\nredis = "{redis_url}"\nnode = "{name}"\n'
        config = os.path.join(self.dir, "preload.toml")
        with open(config, "w") as f:
            f.write(
                f'[server]\nlisten = "127.0.0.1:{self.main}"\n'
                f'admin_listen = "127.0.0.1:{self.admin}"\n'
                f'[upstream]\nurl = "http://127.0.0.1:{free_port()}"\n'
                f'[cache]\ndir = "{self.dir}/cache"\n{cluster}'
            )
        env = dict(os.environ, RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [binary, "--config", config, "run"],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "log"), "w"),
            env=env,
        )
        self.conn = None
        wait_for(f"node {name} listening", lambda: self.health() is not None)

    def connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=10)
        return self.conn

    def request(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body else {}
        for attempt in (0, 1):
            try:
                c = self.connection()
                c.request(method, path, body=body, headers=headers)
                r = c.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt:
                    raise
        return None

    def health(self):
        status, body = self.request("GET", "/_preloadd/health")
        return json.loads(body) if status == 200 else None

    def applied(self):
        return self.health()["cluster"]["applied"]

    def webhook(self, url):
        status, body = self.request("POST", "/_invalidate", json.dumps({"urls": [url]}))
        if status != 200:
            sys.exit(f"cluster_bench: webhook answered {status}: {body!r}")
        return json.loads(body)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def quantiles(ms):
    ms = sorted(ms)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    return f"p50 {pick(0.5):.2f}  p90 {pick(0.9):.2f}  p99 {pick(0.99):.2f}  max {ms[-1]:.2f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/preloadd")
    ap.add_argument("-n", type=int, default=1000)
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)

    root = tempfile.mkdtemp(prefix="cluster-bench.")
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", root],
        stdout=subprocess.DEVNULL,
    )
    nodes = []
    try:
        def pong():
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        wait_for("redis-server answering", pong)
        url = f"redis://127.0.0.1:{port}/0"
        a, b, c = (Node(binary, root, name, url) for name in ("a", "b", "c"))
        d = Node(binary, root, "d", None)
        nodes = [a, b, c, d]
        # One entry first, so that B and C follow a stream that exists.
        a.webhook("/warm-up")
        wait_for("the first entry on B and C", lambda: b.applied() >= 1 and c.applied() >= 1)

        seen = {"b": [], "c": []}
        for i in range(args.n):
            base = {n: node.applied() for n, node in (("b", b), ("c", c))}
            start = time.perf_counter()
            reply = a.webhook(f"/page/{i}")
            if reply.get("cluster") != "ok":
                sys.exit(f"cluster_bench: not published: {reply}")
            pending = {"b": b, "c": c}
            deadline = start + 10
            while pending:
                for n, node in list(pending.items()):
                    if node.applied() > base[n]:
                        seen[n].append((time.perf_counter() - start) * 1000)
                        del pending[n]
                if time.perf_counter() > deadline:
                    sys.exit(f"cluster_bench: entry {i} not applied on {sorted(pending)}")

        def timed(node, label):
            ms = []
            for i in range(args.n):
                t = time.perf_counter()
                node.webhook(f"/{label}/{i}")
                ms.append((time.perf_counter() - t) * 1000)
            return ms

        with_cluster = timed(a, "timed-a")
        alone = timed(d, "timed-d")
        load = os.getloadavg()[0]
        print(f"{args.n} invalidations, 3 nodes on one redis-server, loopback, load {load:.1f}")
        print(f"  send on A until applied on B: {quantiles(seen['b'])}")
        print(f"  send on A until applied on C: {quantiles(seen['c'])}")
        both = [max(x, y) for x, y in zip(seen["b"], seen["c"])]
        print(f"  send on A until applied on both: {quantiles(both)}")
        print(f"  webhook reply, with [cluster]:    {quantiles(with_cluster)}")
        print(f"  webhook reply, without [cluster]: {quantiles(alone)}")
    finally:
        for node in nodes:
            node.stop()
        redis.terminate()
        redis.wait(timeout=10)
        subprocess.run(["rm", "-rf", root])


if __name__ == "__main__":
    main()
