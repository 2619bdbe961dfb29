#!/usr/bin/env bash
# Public-mailbox benchmarks: three stock nostr-rs-relay instances and two NAT'd homes with no
# libp2p path between them, in network namespaces (cli/tests/support/mailboxes.rs; root
# needed, nostr-rs-relay from scripts/deps.sh). Prints one JSON line per figure: send → shown
# through the mailboxes, catch-up of 1,000 and 10,000 waiting messages, events and bytes per
# message on the relays, idle cost per hour. Reports only; nothing passes or fails on time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -q --locked -p hearth --test nostr_mailboxes_bench -- --ignored --nocapture mailbox_figures \
  | grep '^{"bench"'
