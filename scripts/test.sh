#!/usr/bin/env bash
# Sets everything up and runs every test: installs missing Debian packages,
# builds the dev preset (AddressSanitizer + UndefinedBehaviorSanitizer,
# warnings as errors) and runs the whole CTest suite.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset dev >/dev/null
cmake --build --preset dev
ctest --preset dev "$@"
