#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer, AddressSanitizer) of everything that decodes
# or applies input from others: envelopes, invites, bundles, the sync and mailbox protocols,
# membership operations, and group content through a live engine (fuzz/fuzz_targets/).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   each target for SECONDS (default 20), from the
#                                            kept corpus in fuzz/corpus/<target>
#
# The test command runs it briefly, so a regression shows; run it for minutes or hours to
# search. New inputs that reach new code land in fuzz/corpus (commit them, minimised with
# `cargo fuzz cmin`); a crash is saved in fuzz/artifacts and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(envelope invite bundle sync_protocol mailbox membership engine)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked --quiet
# libFuzzer's flags (-Z sanitizer, coverage) are unstable options: the stable compiler accepts
# them from build tools that ask, as cargo-fuzz does here.
export RUSTC_BOOTSTRAP=1
cd fuzz
cargo fuzz build --release
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "fuzzing $t for ${secs}s"
  cargo fuzz run --release "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=4096 \
    -print_final_stats=1 2>&1 | grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|Done)" || true
  if ls "artifacts/$t"/crash-* "artifacts/$t"/leak-* "artifacts/$t"/oom-* >/dev/null 2>&1; then
    echo "fuzz target $t found a failure: see fuzz/artifacts/$t" >&2
    exit 1
  fi
done
