#!/usr/bin/env bash
# Every test of softgrad: lints, the Rust tests, then the wheel users install (manylinux2014 abi3,
# built once) tested as installed in a fresh virtual environment at every SIMD level
# (scripts/wheel.sh). Installs everything it needs from PyPI and rustup.
# Usage: ./scripts/test.sh   (from anywhere; needs Rust and Python >= 3.10; PYTHON picks the
# interpreter the virtual environments are made from, default python3)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
# shellcheck source=scripts/venv.sh
. scripts/venv.sh

echo "== installing the Rust lints and the Python lint tools (target/venv-lint)"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
LINT=target/venv-lint
[ -x "$LINT/bin/python" ] || make_venv "$LINT"
# numpy: mypy checks the package against NumPy's types.
"$LINT/bin/python" -m pip install --quiet --disable-pip-version-check "ruff>=0.6" "mypy>=1.10" "numpy>=1.24"

echo "== lint: cargo fmt, cargo clippy, cargo doc, ruff, mypy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc -p softgrad-core --no-deps --quiet
"$LINT/bin/python" -m ruff check python tests benches/python scripts
"$LINT/bin/python" -m ruff format --check python tests benches/python scripts
"$LINT/bin/python" -m mypy

echo "== cargo test (core), at the best SIMD level, pinned to AVX2 (if that is another) and to the portable code"
# Each pinned run asserts that the pin took effect (simd::tests::softgrad_simd_pins_the_level), so a
# level that silently fell back cannot pass as tested.
cargo test -p softgrad-core --quiet
# Where the CPU has no AVX-512 the unpinned run above was the AVX2 one.
if [ ! -r /proc/cpuinfo ] || grep -qw avx512f /proc/cpuinfo; then
  SOFTGRAD_SIMD=avx2 cargo test -p softgrad-core --quiet
fi
SOFTGRAD_SIMD=scalar cargo test -p softgrad-core --quiet

# The Python suite runs against the built wheel, installed: what users get, not the source tree.
./scripts/wheel.sh
