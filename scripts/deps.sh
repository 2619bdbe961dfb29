#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian/Ubuntu machine (as root): iproute2 and strace
# for the network-namespace scenarios, procps for pkill, Node.js for the Yjs check, and the
# Rust lint components. Does nothing for what is already there.
set -euo pipefail
rustup component add rustfmt clippy >/dev/null 2>&1 || true
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v strace >/dev/null || need+=(strace)
command -v pkill >/dev/null || need+=(procps)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
