#!/usr/bin/env bash
# The mutation score from one or more cargo-mutants output directories
# (each holding caught.txt, missed.txt, timeout.txt, unviable.txt), later
# directories re-testing what earlier ones missed (as `--iterate` does): a
# mutant caught or timed out in any run counts as caught, one unviable in
# any run as unviable, and the rest as missed.
#
#   benches/mutants-score.sh target/mutants/mutants.out [more.out ...]
#   SCOPE_EXTRA=FILE benches/mutants-score.sh ...   # more out-of-scope patterns,
#       for mutants named as an older listing named them (code since moved)
#
# Prints the share of viable mutants caught, over every mutant tested and
# over those in scope (benches/mutants-out-of-scope.txt lists the ones no
# test through the platforms can see, and why), and the survivors in scope.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: $0 MUTANTS_OUT_DIR [...]" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in "$@"; do
  for f in caught timeout unviable missed; do
    [ -f "$d/$f.txt" ] || { echo "$d/$f.txt is missing" >&2; exit 2; }
  done
  cat "$d/caught.txt" "$d/timeout.txt" >>"$tmp/caught"
  cat "$d/unviable.txt" >>"$tmp/unviable"
  cat "$d/missed.txt" >>"$tmp/missed"
done
sort -u -o "$tmp/caught" "$tmp/caught"
sort -u -o "$tmp/unviable" "$tmp/unviable"
sort -u "$tmp/missed" | comm -23 - "$tmp/caught" | comm -23 - "$tmp/unviable" >"$tmp/survived"
cat benches/mutants-out-of-scope.txt ${SCOPE_EXTRA:+"$SCOPE_EXTRA"} | grep -v -E '^(#|$)' >"$tmp/scope"
score() { # caught-file survived-file label
  local c s
  c=$(wc -l <"$1"); s=$(wc -l <"$2")
  if [ $((c + s)) -eq 0 ]; then echo "$3: nothing viable"; return; fi
  awk -v c="$c" -v s="$s" -v l="$3" \
    'BEGIN { printf "%s: %d of %d viable mutants caught (%.1f %%), %d survived\n", l, c, c + s, 100 * c / (c + s), s }'
}
grep -v -E -f "$tmp/scope" "$tmp/caught" >"$tmp/caught-in" || true
grep -v -E -f "$tmp/scope" "$tmp/survived" >"$tmp/survived-in" || true
echo "unviable: $(wc -l <"$tmp/unviable")"
score "$tmp/caught" "$tmp/survived" "every mutant"
score "$tmp/caught-in" "$tmp/survived-in" "in scope"
echo
echo "survivors in scope:"
cat "$tmp/survived-in"
