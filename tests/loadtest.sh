#!/usr/bin/env bash
# The load harness checks itself: a short `mixed` run (good tokens, plus tampered, garbage, missing,
# expired and foreign-key ones) against the local gateway on 127.0.0.1, and the summary must show
# requests of both kinds and no wrong status (a good token not answered 2xx, a bad one not 401).
# Latency thresholds are loosened: this is a correctness check on a shared machine, not a benchmark.
#
#   tests/loadtest.sh [DURATION]     (default 5s; needs python3, cargo, curl; installs k6 if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-5s}"
results="$(mktemp -d "${TMPDIR:-/tmp}/jwt-authorizer-loadtest-check.XXXXXX")"
trap 'rm -rf "$results"' EXIT

status=0
RESULTS_DIR="$results" VUS="${VUS:-4}" TOKEN_POOL="${TOKEN_POOL:-2000}" BAD_SHARE="${BAD_SHARE:-0.3}" \
  P95_MS="${P95_MS:-5000}" P99_MS="${P99_MS:-10000}" \
  loadtest/run-local mixed "$duration" || status=$?

summary="$results/mixed-summary.json"
[[ -s $summary ]] || { echo "loadtest: no summary (run-local exited $status)" >&2; exit 1; }
python3 loadtest/headline.py --check "$summary"
python3 - "$summary" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
good, bad = m["http_reqs{token:good}"]["count"], m["http_reqs{token:bad}"]["count"]
if good == 0 or bad == 0:
    sys.exit(f"loadtest: expected good- and bad-token requests, got {good} and {bad}")
PY
if (( status != 0 )); then
  echo "loadtest: run-local exited $status (a threshold failed)" >&2
  exit "$status"
fi
echo "loadtest: ok"
