#!/usr/bin/env bash
# Every test: formatting, lints, unit and behaviour tests of every crate.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
