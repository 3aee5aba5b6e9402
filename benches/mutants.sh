#!/usr/bin/env bash
# Mutation score of the shipped suite on the reference engine: cargo-mutants
# mutates engine/ one change at a time and runs the shipped scenarios
# (harness/tests/suite.rs: every file under scenarios/ must meet its
# expectation) against each mutant. A mutant the suite still passes
# "survived": a bug of that shape would ship. Not in CI: one mutant costs an
# incremental rebuild of engine + harness (about 5 s) and up to one suite run
# (about 13 s on 2 cores), so all of engine/ takes a few hours.
#
#   cargo install cargo-mutants --locked
#   benches/mutants.sh                                  # every mutant of engine/ (hours)
#   benches/mutants.sh --file engine/src/sync.rs --shard 1/8 --sharding round-robin
#   IN_PLACE=1 benches/mutants.sh ...                   # mutate this tree, reuse target/ (no copy, no fresh build)
#   benches/mutants.sh --list                           # the mutants, without running them
#
#   OMNISIM_SUITE_ONLY=faults/,orders/ benches/mutants.sh -F 'in order_changed'
#                                                       # only scenarios whose path has one of these
#
# Results: target/mutants/mutants.out/{caught,missed,timeout,unviable}.txt
# (or $OUT). `benches/mutants-score.sh DIR...` gives the score, over every
# mutant and over those a test through the platforms can see
# (benches/mutants-out-of-scope.txt), merging runs that re-tested what
# earlier ones missed. A run narrowed by OMNISIM_SUITE_ONLY proves the
# mutants it catches caught; what it misses, only the whole suite can
# clear. BENCHMARKS.md records the measured score and the survivors.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-mutants >/dev/null; then
  echo "cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
  exit 2
fi
# cargo-mutants runs its unmutated baseline with the mutated package's own
# tests (engine/ has no `suite` test), whatever `--test-package` says, so the
# baseline is run here instead and skipped there; the timeouts are then fixed.
# `--test=suite` goes to every cargo call, so a mutant builds only that test.
args=(--package=omnisim-engine --test-package=omnisim-harness --baseline=skip
  --cargo-arg=--test=suite
  --timeout "${TIMEOUT:-180}" --build-timeout "${BUILD_TIMEOUT:-1800}"
  --output "${OUT:-target/mutants}")
[ -z "${IN_PLACE:-}" ] || args+=(--in-place)
# Incremental builds: a mutant changes one function body of engine/, and the
# harness and suite test reuse nearly all of their previous compilation
# (5 s a mutant instead of 50 s with CARGO_INCREMENTAL=0).
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-1}
# The suite stops at its first failing scenario and runs each scenario once
# (not twice for determinism): a caught mutant then costs seconds, not the
# whole suite. Set FULL_SUITE=1 to judge every mutant by the whole test.
[ -n "${FULL_SUITE:-}" ] || export OMNISIM_SUITE_FAIL_FAST=1
if [ -z "${SKIP_BASELINE:-}" ] && [[ " $* " != *" --list "* ]]; then
  echo "baseline: the shipped suite on the unmutated engine" >&2
  cargo test -p omnisim-harness --test suite --quiet
fi
exec cargo mutants "${args[@]}" "$@"
