#!/usr/bin/env bash
# Every test: formatting, lints, unit and behaviour tests of every crate, crash tests, the
# network scenarios in Linux network namespaces (needs root, as CI has), a short fuzz run of
# every decoder and of the engine, the UI's unit tests,
# the app's end-to-end tests (real app window in WebKitWebDriver under Xvfb, screenshots in
# target/e2e-artifacts/), and the .deb/.rpm installers.
set -euo pipefail
cd "$(dirname "$0")/.."
# A full run rebuilds the workspace crates once; incremental caches would only fill the disk.
export CARGO_INCREMENTAL=0
./scripts/deps.sh
cargo fmt --all -- --check
npm ci --prefix tools/yjs-check --no-audit --no-fund --silent
npm ci --prefix ui --no-audit --no-fund --silent
npm ci --prefix e2e --no-audit --no-fund --silent
npm test --prefix ui --silent
npm run check --prefix ui --silent
npm run build --prefix ui --silent

# hearth-core and the CLI (with its relay) build without Tauri, GTK or any system library:
# nothing in their tree asks for one through system-deps, as the app's GTK crates do.
if cargo tree --locked -p hearth-core -p hearth -e normal,build | grep -E '(tauri|gtk|webkit|system-deps) v'; then
  echo "hearth-core or the CLI depends on a system library or on Tauri" >&2
  exit 1
fi

cargo clippy --workspace --all-targets --locked -- -D warnings
# Docs cannot drift silently: a broken link, or a public doc linking a private item, fails.
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked -p hearth-core -p hearth
# Among them core's `ui_types`: ui/src/lib/types.gen.ts must be what the Rust types say (a
# drift fails here; `UPDATE_UI_TYPES=1 cargo test -p hearth-core --lib ui_types` writes it).
cargo test --workspace --locked
# A short run of every fuzz target from the kept corpus, so a regression in what decodes or
# applies input from others shows here (scripts/fuzz.sh SECONDS searches for longer).
./scripts/fuzz.sh 10
cargo build --locked -p hearth -p hearth-app
npm test --prefix e2e
./scripts/installers.sh

# What the run left on disk, so that growth shows in the log before it becomes a failure.
du -sh target 2>/dev/null || true
