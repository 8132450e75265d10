"""The hand-written stubs of `softgrad._core` (a stub package: `_core/__init__.pyi` plus one stub per
family submodule) must match the compiled module."""

import subprocess
import sys

import softgrad._core


def test_core_stub_matches_the_extension_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "softgrad._core"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # stubtest walks the stub package: the family submodules are checked too.
    assert "in 3 modules" in proc.stdout, proc.stdout


def test_family_submodules_import_both_ways() -> None:
    import softgrad._core.logsumexp as by_path
    from softgrad._core import logsumexp as by_name

    assert by_path is by_name is sys.modules["softgrad._core.logsumexp"]
    assert by_name.__name__ == "softgrad._core.logsumexp"
    assert by_name.softmax.__module__ == "softgrad._core.logsumexp"
    assert softgrad._core.logsumexp is by_name
