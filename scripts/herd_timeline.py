#!/usr/bin/env python3
"""One herd's timeline from `perf script` output (system call tracepoints of
the daemon and the app, recorded by scripts/herd_floor.sh with TIMELINE=1).

Usage: perf script -i FILE -F pid,tid,time,event,trace | herd_timeline.py DAEMON_PID APP_PID
Prints one line, in ms from the daemon's first accept of the herd:
  sent     the daemon's first write after that accept (its request to the app)
  app_in   the app's first read of a request (how long the request waited
           for the app's CPU)
  app_out  the app's answer
  answers  the daemon's writes to visitors after the app's answer: how many,
           first / median / last
"""
import re
import statistics
import sys

EVENT = re.compile(r"^\s*(\d+)/\d+\s+([\d.]+):\s+syscalls:(\w+):\s*(.*)$")
SENDS = {"sys_enter_sendmsg", "sys_enter_writev", "sys_enter_sendto"}


def events(lines, pids):
    """(ms, who, event, args) in order, who being a name of `pids`."""
    for line in lines:
        m = EVENT.match(line)
        if m and m.group(1) in pids:
            pid, at, event, args = m.groups()
            yield float(at) * 1000, pids[pid], event, args


def main():
    daemon, app = sys.argv[1], sys.argv[2]
    rows = list(events(sys.stdin, {daemon: "daemon", app: "app"}))
    start = next((t for t, who, ev, args in rows
                  if who == "daemon" and ev == "sys_exit_accept4" and not args.startswith("0xffff")), None)
    if start is None:
        print("timeline: no accept recorded")
        return
    after = [(t - start, who, ev, args) for t, who, ev, args in rows if t >= start]
    sent = next((t for t, who, ev, _ in after if who == "daemon" and ev in SENDS), None)
    app_in = next((t for t, who, ev, args in after
                   if who == "app" and ev == "sys_exit_recvfrom" and not args.startswith("0xffff")
                   and int(args, 16) > 0), None)
    app_out = next((t for t, who, ev, _ in after
                    if who == "app" and ev == "sys_enter_sendto"), None)
    if None in (sent, app_in, app_out):
        print("timeline: incomplete (sent %s, app_in %s, app_out %s)" % (sent, app_in, app_out))
        return
    answers = [t - app_out for t, who, ev, _ in after if who == "daemon" and ev in SENDS and t > app_out]
    if not answers:
        print("timeline: no answer recorded after the app's")
        return
    print("timeline: sent %+.1f  app_in %+.1f  app_out %+.1f  answers %d after the app's: "
          "first %+.1f median %+.1f last %+.1f ms"
          % (sent, app_in, app_out, len(answers), answers[0], statistics.median(answers), answers[-1]))


if __name__ == "__main__":
    main()
