#!/usr/bin/env bash
# The wheel users install, proven: builds the manylinux2014 abi3 x86-64 wheel (zig as the linker,
# so it needs only glibc 2.17) and the sdist, checks them (auditwheel, license texts, metadata,
# tests in the sdist), installs the wheel into a fresh virtual environment with no source tree on
# the path, and runs the whole test suite against it at every SIMD level.
#
# Usage: ./scripts/wheel.sh [--build-only] [--check-reproducible]
#   --build-only           stop after building and checking the wheel and sdist
#   --check-reproducible   build the wheel a second time in another target directory and require
#                          the same bytes (same SOURCE_DATE_EPOCH; takes one more release build)
# Environment: PYTHON (the interpreter the virtual environments are made from; default python3),
#   SOURCE_DATE_EPOCH (default: the last commit's time).
# Leaves: target/dist/ (wheel + sdist), target/venv-tools/ (build tools, reused),
#   target/venv-wheel/ (made afresh each run: the installed wheel and its test extra).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
# shellcheck source=scripts/venv.sh
. scripts/venv.sh

BUILD_ONLY=0
REPRO=0
for arg in "$@"; do
  case $arg in
    --build-only) BUILD_ONLY=1 ;;
    --check-reproducible) REPRO=1 ;;
    *) echo "usage: $0 [--build-only] [--check-reproducible]" >&2; exit 2 ;;
  esac
done

DIST=$ROOT/target/dist
TOOLS=$ROOT/target/venv-tools
VENV=$ROOT/target/venv-wheel
TARGET=x86_64-unknown-linux-gnu

echo "== wheel: build tools (maturin, zig, auditwheel) in target/venv-tools"
[ -x "$TOOLS/bin/python" ] || make_venv "$TOOLS"
# ziglang < 0.18: the zig maturin drives as a linker is checked here with 0.17.
"$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check \
  "maturin>=1.10,<2" "ziglang<0.18" "auditwheel>=6"

# Reproducible: file times in the wheel and the SBOM's timestamp come from SOURCE_DATE_EPOCH, and
# the library's panic locations (and the SBOM, scripts/normalize_sbom.py) name /softgrad and /cargo
# instead of this checkout and ~/.cargo, so any checkout builds the same bytes. RUSTFLAGS is set, not extended: this wheel runs anywhere (no -C target-cpu; the
# kernels dispatch at run time).
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}
CARGO_HOME_DIR=${CARGO_HOME:-$HOME/.cargo}
export SOURCE_DATE_EPOCH
export RUSTFLAGS="--remap-path-prefix=$ROOT=/softgrad --remap-path-prefix=$CARGO_HOME_DIR=/cargo"
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}

build_wheel() { # OUT_DIR [CARGO_TARGET_DIR]
  # maturin finds zig through the tools environment's python (`python -m ziglang`).
  PATH="$TOOLS/bin:$PATH" CARGO_TARGET_DIR=${2:-$ROOT/target} \
    maturin build --release --zig --compatibility manylinux2014 --target "$TARGET" \
    --out "$1" --quiet
  # The SBOM names the workspace crates by absolute path: recorded as /softgrad too.
  "$TOOLS/bin/python" scripts/normalize_sbom.py "$(ls "$1"/*.whl)" "$ROOT"
}

echo "== wheel: maturin build --release --zig --compatibility manylinux2014 (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
rm -rf "$DIST"
build_wheel "$DIST"
PATH="$TOOLS/bin:$PATH" maturin sdist --out "$DIST" >/dev/null
WHEEL=$(ls "$DIST"/*.whl)

echo "== wheel: auditwheel show"
REPORT=$("$TOOLS/bin/auditwheel" show "$WHEEL")
echo "$REPORT"
# auditwheel names the most compatible policy the wheel satisfies (manylinux2014 is PEP 600's
# manylinux_2_17): fail unless that is glibc 2.17 or older.
TAG=$(tr -s ' \n' ' ' <<<"$REPORT" | grep -o 'consistent with the following platform tag: "manylinux_2_[0-9]*_x86_64"' |
  grep -o 'manylinux_2_[0-9]*' || true)
if [ -z "$TAG" ] || [ "${TAG#manylinux_2_}" -gt 17 ]; then
  echo "error: auditwheel does not report manylinux2014 (manylinux_2_17) compatibility (got '${TAG:-none}')" >&2
  exit 1
fi
echo "   auditwheel: $TAG, i.e. manylinux2014 compatible"
"$TOOLS/bin/python" scripts/check_dist.py "$DIST"

if [ "$REPRO" -eq 1 ]; then
  echo "== wheel: second build in target/repro, same SOURCE_DATE_EPOCH"
  rm -rf "$ROOT/target/repro-dist"
  build_wheel "$ROOT/target/repro-dist" "$ROOT/target/repro"
  A=$(sha256sum "$WHEEL" | cut -d' ' -f1)
  B=$(sha256sum "$ROOT"/target/repro-dist/*.whl | cut -d' ' -f1)
  echo "   $A  first build"
  echo "   $B  second build"
  if [ "$A" != "$B" ]; then
    echo "error: the two builds differ" >&2
    exit 1
  fi
  echo "   identical"
fi

[ "$BUILD_ONLY" -eq 1 ] && exit 0

echo "== wheel: fresh virtual environment target/venv-wheel with the wheel and its test extra"
make_venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${WHEEL}[test]"
# The suite must see the installed wheel, never the source tree.
(cd tests && "$VENV/bin/python" - "$VENV" <<'EOF'
import os, sys
import softgrad
where, venv = os.path.realpath(softgrad.__file__), os.path.realpath(sys.argv[1])
assert where.startswith(venv + os.sep), f"softgrad imported from {where}, not from {venv}"
print(f"   softgrad {softgrad.__version__} imported from {where}")
EOF
)

echo "== wheel: pytest against the installed wheel at each SIMD level"
run_pytest() {
  set +e
  (cd tests && "$VENV/bin/python" -m pytest -q -p no:cacheprovider --rootdir=.. -c ../pyproject.toml "$@" .)
  local status=$?
  set -e
  if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
  fi
  [ "$status" -eq 0 ] || exit "$status"
}
# The kernels dispatch on the CPU: the lower levels are pinned too (tests/test_packaging.py checks
# that the pin took effect, so a level that silently fell back cannot pass as tested).
SOFTGRAD_SIMD=scalar run_pytest -x
SOFTGRAD_SIMD=avx2 run_pytest -x
# The CPU's own level, unpinned; on a CPU whose best level is AVX2 that run was the one above.
BEST=$(cd tests && "$VENV/bin/python" -c "import softgrad; print(softgrad.simd_level())")
if [ "$BEST" = avx2 ]; then
  echo "   the CPU's best SIMD level is avx2: tested above"
else
  run_pytest
fi
