#!/usr/bin/env bash
# Runs the Hearth desktop app: installs the system libraries and the UI's npm packages, builds
# the UI, then builds and starts the app. Data lives in the OS data directory
# (~/.local/share/org.hearth.desktop); set HEARTH_DATA_DIR to run a second instance beside it:
#
#   HEARTH_DATA_DIR=/tmp/grandma ./scripts/app.sh
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh app
npm ci --prefix ui --no-audit --no-fund --silent
npm run build --prefix ui --silent
exec cargo run --locked -q -p hearth-app
