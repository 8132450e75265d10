#!/usr/bin/env bash
# Every test of softgrad: installs what it needs, then lints, Rust tests and Python tests.
# Usage: ./scripts/test.sh   (from anywhere; needs Rust and Python >= 3.10)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
echo "== installing softgrad and its test dependencies"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
"$PY" -m pip install --quiet --upgrade "maturin>=1.10,<2"
"$PY" -m pip install --quiet ".[test]"

echo "== lint: cargo fmt, cargo clippy, ruff, mypy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
"$PY" -m ruff check python tests benches/python
"$PY" -m ruff format --check python tests benches/python
"$PY" -m mypy

echo "== cargo test (core)"
cargo test -p softgrad-core --quiet

echo "== pytest"
# Run against the installed package, not the source tree.
set +e
(cd tests && "$PY" -m pytest -q -p no:cacheprovider --rootdir=.. -c ../pyproject.toml .)
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$status"
