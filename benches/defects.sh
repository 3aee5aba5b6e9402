#!/usr/bin/env bash
# Runs the whole shipped suite once per deliberate engine defect (release
# build, virtual time) and prints, per defect, how many scenarios fail and the
# first reason of each. Not in CI: harness/tests/defects.rs checks, per
# defect, the scenarios its table names (measured here).
#   BIN=target/debug/omnisim NO_BUILD=1 benches/defects.sh   # a debug binary
#
#   benches/defects.sh                 # every defect
#   benches/defects.sh reserve-lag     # some
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
bin=${BIN:-target/release/omnisim}
if [ $# -gt 0 ]; then
  defects=("$@")
else
  mapfile -t defects < <(sed -n 's/^ *[A-Za-z]* = "\([a-z-]*\)",$/\1/p' engine/src/defect.rs)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for d in "${defects[@]}"; do
  "$bin" run scenarios/ --defect "$d" --json --out "$out/run" >"$out/$d.json" 2>/dev/null || true
  rm -rf "$out/run"
  python3 - "$d" "$out/$d.json" <<'PY'
import json, sys
d, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
failed = [s for s in r["scenarios"] if s["status"] != "pass"]
print(f"{d}: {len(failed)}/{len(r['scenarios'])} scenarios fail")
for s in failed:
    reason = (s.get("reasons") or ["?"])[0]
    print(f"    {s['file']}: {reason[:200]}")
PY
done
