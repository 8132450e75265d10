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

echo "== lint: cargo fmt, cargo clippy, cargo doc, ruff, mypy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc -p softgrad-core --no-deps --quiet
"$PY" -m ruff check python tests benches/python
"$PY" -m ruff format --check python tests benches/python
"$PY" -m mypy

echo "== cargo test (core), at the best SIMD level and again pinned to AVX2 and to the portable code"
# Each pinned run asserts that the pin took effect (simd::tests::softgrad_simd_pins_the_level), so a
# level that silently fell back cannot pass as tested.
cargo test -p softgrad-core --quiet
SOFTGRAD_SIMD=avx2 cargo test -p softgrad-core --quiet
SOFTGRAD_SIMD=scalar cargo test -p softgrad-core --quiet

echo "== pytest"
# Run against the installed package, not the source tree.
run_pytest() {
  set +e
  (cd tests && "$PY" -m pytest -q -p no:cacheprovider --rootdir=.. -c ../pyproject.toml "$@" .)
  local status=$?
  set -e
  if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
  fi
  [ "$status" -eq 0 ] || exit "$status"
}
# The kernels dispatch on the CPU: run the suite pinned to the lower levels too (where supported).
SOFTGRAD_SIMD=scalar run_pytest -x
SOFTGRAD_SIMD=avx2 run_pytest -x
run_pytest
