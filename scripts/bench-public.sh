#!/usr/bin/env bash
# Public-network benchmarks: two homes behind NAT and eight stock Kubo nodes in network
# namespaces (cli/tests/support/internet.rs; root needed, kubo-python from scripts/deps.sh).
# Prints one JSON line per figure (median, min, max over the rounds): invite → connected
# across homes, restart → connected again with the bootstrap node gone, send → shown direct
# and through a public relay, and idle cost per hour. Reports only; nothing passes or fails
# on time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -q --locked -p hearth --test public_network_bench -- --ignored --nocapture public_network_figures \
  | grep '^{"bench"'
