#!/usr/bin/env bash
# Every test: formatting, lints, unit and behaviour tests of every crate, crash tests, and the
# network scenarios in Linux network namespaces (needs root, as CI has).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo fmt --all -- --check
npm ci --prefix tools/yjs-check --no-audit --no-fund --silent
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
