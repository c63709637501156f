#!/usr/bin/env bash
# Installs junitparser (PyPI) into target/tools/junitparser: the real JUnit
# consumer tests/reports.rs reads agentward's JUnit reports back with.
# Idempotent; prints the directory to put on PYTHONPATH last.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${AGENTWARD_TOOLS:-$root/target/tools}/junitparser"
if ! PYTHONPATH="$dir" python3 -c 'import junitparser' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check --target "$dir" 'junitparser>=3,<5'
fi
echo "$dir"
