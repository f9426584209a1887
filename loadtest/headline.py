#!/usr/bin/env python3
"""The headline of a k6 summary (`k6 run --summary-export FILE`): req/s, latency, errors.

    headline.py SUMMARY.json NAME DURATION [HEALTHZ_JSON [SERVER_JSON]]   the headline of one run
    headline.py --check SUMMARY.json                        exits 1 unless no status was wrong
    headline.py --compare ON.json OFF.json                  auth on against auth off (ratios)
"""

import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def metric(summary, name):
    return summary.get("metrics", {}).get(name) or {}


def count(summary, name):
    return metric(summary, name).get("count", 0)


def figures(summary):
    """The numbers of a run; latencies in ms, of good-token requests when there are any."""
    duration = metric(summary, "http_req_duration{token:good}")
    if not duration.get("max") and not duration.get("p(99)"):
        duration = metric(summary, "http_req_duration")
    failed = metric(summary, "http_req_failed")
    return {
        "requests": count(summary, "http_reqs"),
        "rps": metric(summary, "http_reqs").get("rate", 0.0),
        "good": count(summary, "http_reqs{token:good}"),
        "bad": count(summary, "http_reqs{token:bad}"),
        "p50": duration.get("med", 0.0),
        "p95": duration.get("p(95)", 0.0),
        "p99": duration.get("p(99)", 0.0),
        "max": duration.get("max", 0.0),
        "bad_p99": metric(summary, "http_req_duration{token:bad}").get("p(99)"),
        # http_req_failed counts unexpected answers: not 2xx for good tokens, not 401 for bad ones.
        "error_rate": failed.get("value", failed.get("rate", 0.0)),
        "wrong": count(summary, "wrong_status"),
        "wrong_good": count(summary, "wrong_status{token:good}"),
        "wrong_bad": count(summary, "wrong_status{token:bad}"),
        "reused": count(summary, "token_reuse"),
        "dropped": count(summary, "dropped_iterations"),
        "failed_thresholds": failed_thresholds(summary),
    }


def failed_thresholds(summary):
    # The legacy summary export maps each threshold to true when it FAILED.
    out = []
    for name, values in summary.get("metrics", {}).items():
        for expr, failed in (values.get("thresholds") or {}).items():
            if failed is True:
                out.append(f"{name}: {expr}")
    return out


def server_cpu(path):
    """Server CPU microseconds per request, from run-local's NAME-server.json (None if unknown)."""
    try:
        with open(path, encoding="utf-8") as f:
            server = json.load(f)
    except (OSError, ValueError):
        return None
    if not server.get("requests") or not server.get("cpu_seconds"):
        return None
    return 1e6 * server["cpu_seconds"] / server["requests"]


def headline(path, name, duration, healthz_text="{}", server_path=None):
    f = figures(load(path))
    lines = [
        f"{name} ({duration}): {f['rps']:.0f} req/s, {f['requests']} requests"
        + (f" ({f['good']} good-token, {f['bad']} bad-token)" if f["bad"] else ""),
        f"  latency{' (good tokens)' if f['bad'] else ''}: p50 {f['p50']:.2f} ms, p95 {f['p95']:.2f} ms, "
        f"p99 {f['p99']:.2f} ms, max {f['max']:.2f} ms"
        + (f"; bad tokens p99 {f['bad_p99']:.2f} ms" if f["bad_p99"] is not None and f["bad"] else ""),
        f"  error rate {100 * f['error_rate']:.3f} %, wrong statuses {f['wrong']}"
        f" (good-token {f['wrong_good']}, bad-token {f['wrong_bad']})",
    ]
    if f["reused"]:
        lines.append(f"  requests with a reused token (after the token pool ran out): {f['reused']}")
    if f["dropped"]:
        lines.append(f"  dropped iterations (the arrival rate was not reached): {f['dropped']}")
    try:
        health = json.loads(healthz_text or "{}")
    except ValueError:
        health = {}
    gateway = {k: v for k, v in health.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if isinstance(health.get("gateway"), dict):
        gateway = health["gateway"]
    if gateway:
        lines.append("  gateway counters: " + ", ".join(f"{k} {v}" for k, v in gateway.items()))
    cpu = server_cpu(server_path) if server_path else None
    if cpu is not None:
        lines.append(f"  server CPU (user + system) per request: {cpu:.1f} us")
    lines.append(
        "  thresholds: " + ("all passed" if not f["failed_thresholds"] else "FAILED " + "; ".join(f["failed_thresholds"]))
    )
    print("\n".join(lines))


def check(path):
    summary = load(path)
    f = figures(summary)
    if "wrong_status" not in summary.get("metrics", {}):
        print(f"{path}: no wrong_status metric: not a summary of loadtest/authorizer.js", file=sys.stderr)
        return 1
    if f["requests"] == 0:
        print(f"{path}: no requests were made", file=sys.stderr)
        return 1
    if f["wrong"] != 0:
        print(
            f"{path}: {f['wrong']} wrong statuses (good-token {f['wrong_good']}, bad-token {f['wrong_bad']})",
            file=sys.stderr,
        )
        return 1
    print(f"{path}: {f['requests']} requests ({f['good']} good-token, {f['bad']} bad-token), no wrong status")
    return 0


def compare(on_path, off_path):
    on, off = figures(load(on_path)), figures(load(off_path))
    rows = [("req/s", "rps", "{:.0f}"), ("p50 ms", "p50", "{:.2f}"), ("p95 ms", "p95", "{:.2f}"),
            ("p99 ms", "p99", "{:.2f}")]
    print(f"{'':8} {'auth on':>10} {'auth off':>10} {'on/off':>8}")
    for label, key, fmt in rows:
        a, b = on[key], off[key]
        ratio = f"{a / b:.2f}" if b else "-"
        print(f"{label:8} {fmt.format(a):>10} {fmt.format(b):>10} {ratio:>8}")
    cpu_on = server_cpu(on_path.replace("-summary.json", "-server.json"))
    cpu_off = server_cpu(off_path.replace("-summary.json", "-server.json"))
    if cpu_on and cpu_off:
        print(
            f"server CPU per request: {cpu_on:.1f} us with authorization, {cpu_off:.1f} us without "
            f"(on/off {cpu_on / cpu_off:.2f}): the authorizer is {100 * (cpu_on - cpu_off) / cpu_on:.0f} % of the server's CPU"
        )
    if on["p50"]:
        print(f"authorizer's share of the median latency: {100 * (on['p50'] - off['p50']) / on['p50']:.0f} %")
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "--check" and len(argv) == 3:
        return check(argv[2])
    if len(argv) >= 2 and argv[1] == "--compare" and len(argv) == 4:
        return compare(argv[2], argv[3])
    if len(argv) in (4, 5, 6):
        headline(*argv[1:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
