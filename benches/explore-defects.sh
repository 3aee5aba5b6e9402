#!/usr/bin/env bash
# How soon `omnisim explore` (default generator, random faults) finds each
# deliberate engine defect: per defect and per exploration seed, the number
# of the first failing case (0-based) and its first violation, or `-` when
# none was found within the budget. Not in CI (harness/tests/defects.rs
# checks a few defects within their bounds); the table in BENCHMARKS.md comes
# from here.
#
#   benches/explore-defects.sh                     # every defect, seeds 1 2 3, 300 cases
#   CASES=100 SEEDS="1" benches/explore-defects.sh reserve-lag echo-applied
#   BIN=target/debug/omnisim NO_BUILD=1 benches/explore-defects.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/release/omnisim}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
cases=${CASES:-300}
seeds=${SEEDS:-1 2 3}
if [ $# -gt 0 ]; then
  defects=("$@")
else
  mapfile -t defects < <(sed -n 's/^ *[A-Za-z]* = "\([a-z-]*\)",$/\1/p' engine/src/defect.rs)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for d in "${defects[@]}"; do
  line="$d:"
  first=""
  for s in $seeds; do
    log=$("$bin" explore --defect "$d" --cases "$cases" --seed "$s" --quiet \
      --shrink-runs 0 --out "$out" 2>&1 || true)
    case_no=$(sed -n 's/^FOUND in case \([0-9]*\) .*/\1/p' <<<"$log")
    line="$line seed $s: ${case_no:--}"
    if [ -n "$case_no" ] && [ -z "$first" ]; then
      first=$(sed -n 's/^FOUND in case [0-9]* ([^)]*): \(.*\)/\1/p' <<<"$log" | cut -c1-160)
    fi
  done
  echo "$line${first:+   ($first)}"
done
