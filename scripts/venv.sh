# shellcheck shell=bash
# Sourced by the scripts: `make_venv DIR` makes a fresh virtual environment at DIR with "$PY".
#
# `python -m venv` needs ensurepip, which Debian's own python3 lacks unless python3-venv is
# installed; virtualenv (from PyPI) bundles its own pip, so it is the fallback there.
make_venv() {
  local dir=$1
  rm -rf "$dir"
  if "$PY" -m venv "$dir" >/dev/null 2>&1; then
    return 0
  fi
  rm -rf "$dir"
  echo "   ($PY -m venv is unavailable here: using virtualenv from PyPI)"
  # Into a private directory, not the user's site-packages (shared by every user of "$PY").
  local pkg=target/virtualenv-pkg
  if [ ! -d "$pkg/virtualenv" ]; then
    "$PY" -m pip install --quiet --disable-pip-version-check --target "$pkg" virtualenv || {
      echo "error: neither '$PY -m venv' nor pip works; install python3-venv" >&2
      return 1
    }
  fi
  PYTHONPATH=$pkg "$PY" -m virtualenv --quiet "$dir"
}
