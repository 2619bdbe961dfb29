#!/usr/bin/env bash
# What encrypting hearth.db with SQLCipher would cost (issue 9): the same workload on SQLite
# and on SQLCipher (rusqlite's bundled builds, OpenSSL vendored as an installer would ship it),
# run alternately so machine noise falls on both; prints medians and the stripped binary sizes.
set -euo pipefail
cd "$(dirname "$0")"
CARGO_TARGET_DIR=target/plain cargo build --locked --release --features plain
CARGO_TARGET_DIR=target/cipher cargo build --locked --release --features cipher
for _ in 1 2 3; do
  target/plain/release/sqlcipher-cost "${1:-5000}"
  target/cipher/release/sqlcipher-cost "${1:-5000}"
done
for v in plain cipher; do
  strip -o "target/$v.stripped" "target/$v/release/sqlcipher-cost"
  echo "$v binary, stripped: $(stat -c %s "target/$v.stripped") bytes"
done
