#!/usr/bin/env bash
# Every test: formatting, lints, unit and behaviour tests of every crate.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
npm ci --prefix tools/yjs-check --no-audit --no-fund --silent
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
