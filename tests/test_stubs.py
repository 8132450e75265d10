"""The hand-written stub `_core.pyi` must match the compiled module."""

import subprocess
import sys


def test_core_stub_matches_the_extension_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "softgrad._core"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
