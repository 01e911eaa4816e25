#!/usr/bin/env python3
"""Draws the hit table of a ../shared/bench run as SVG bar charts.

    scripts/bench_chart.py RESULTS.md.hits.tsv OUT_DIR

reads the raw rows that `run.sh --out RESULTS.md` writes beside its report
and writes two charts, grouped by page size:

- OUT_DIR/hits-ratio.svg: req/s as a ratio to nginx-static, per round in the
  same run, median over rounds (what the report's "ratio" column says);
- OUT_DIR/hits-cpu.svg: server CPU time per response, in µs (lower is better;
  it still compares servers when wrk's core is the one that is full).

Only the standard library: the charts are plain SVG rectangles and text.
"""
import collections
import statistics
import sys
from pathlib import Path

BASE = "nginx-static"
COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def read(path):
    """{size: {server: {round: (rps, us)}}} in the order measured."""
    table = collections.OrderedDict()
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        f = line.split("\t")
        size, server, rnd, rps, cpu_server = int(f[0]), f[1], f[2], float(f[3]), float(f[8])
        us = cpu_server * 1e4 / rps if rps else float("nan")
        table.setdefault(size, collections.OrderedDict()).setdefault(server, {})[rnd] = (rps, us)
    return table


def figures(table):
    """{size: [(server, ratio, us)]}: medians over rounds."""
    out = collections.OrderedDict()
    for size, servers in table.items():
        base = servers.get(BASE, {})
        rows = []
        for server, rounds in servers.items():
            ratios = [rps / base[r][0] for r, (rps, _) in rounds.items() if r in base and base[r][0]]
            us = statistics.median(u for _, u in rounds.values())
            rows.append((server, statistics.median(ratios) if ratios else float("nan"), us))
        out[size] = rows
    return out


def chart(data, index, title, unit, line_at=None):
    servers = list(collections.OrderedDict((s, None) for rows in data.values() for s, *_ in rows))
    color = {s: COLORS[i % len(COLORS)] for i, s in enumerate(servers)}
    top = max(r[index] for rows in data.values() for r in rows if r[index] == r[index]) * 1.15
    bar, gap, left, height, plot_top = 22, 30, 60, 260, 40
    group = bar * len(servers) + gap
    width = left + group * len(data) + 20 + 150
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 90}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{left}" y="20" font-size="14" font-weight="bold">{title}</text>',
    ]

    def y(v):
        return plot_top + height - v / top * height

    for tick in range(6):
        v = top * tick / 5
        svg.append(f'<line x1="{left}" x2="{left + group * len(data)}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    if line_at is not None:
        svg.append(f'<line x1="{left}" x2="{left + group * len(data)}" y1="{y(line_at):.1f}" '
                   f'y2="{y(line_at):.1f}" stroke="#333" stroke-dasharray="4 3"/>')
    for g, (size, rows) in enumerate(data.items()):
        x0 = left + g * group + gap / 2
        for i, s in enumerate(servers):
            value = next((r[index] for r in rows if r[0] == s), None)
            if value is None or value != value:
                continue
            x = x0 + i * bar
            svg.append(f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{bar - 3}" height="{plot_top + height - y(value):.1f}" '
                       f'fill="{color[s]}"><title>{s} {size} KiB: {value:.2f} {unit}</title></rect>')
        svg.append(f'<text x="{x0 + bar * len(servers) / 2:.1f}" y="{plot_top + height + 18}" '
                   f'text-anchor="middle">{size} KiB</text>')
    lx = left + group * len(data) + 20
    for i, s in enumerate(servers):
        svg.append(f'<rect x="{lx}" y="{plot_top + i * 18}" width="12" height="12" fill="{color[s]}"/>')
        svg.append(f'<text x="{lx + 18}" y="{plot_top + i * 18 + 10}">{s}</text>')
    svg.append(f'<text x="{left}" y="{plot_top + height + 40}">{unit}</text>')
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data = figures(read(sys.argv[1]))
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    (out / "hits-ratio.svg").write_text(
        chart(data, 1, "Cache hits: req/s relative to nginx serving the file", "ratio to nginx-static (higher is better)", 1.0))
    (out / "hits-cpu.svg").write_text(
        chart(data, 2, "Cache hits: server CPU per response", "µs per request (lower is better)"))
    for size, rows in data.items():
        for server, ratio, us in rows:
            print(f"{size} KiB\t{server}\t{ratio:.2f}\t{us:.1f}")


if __name__ == "__main__":
    main()
