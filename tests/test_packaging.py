"""The installed package as a user gets it: the SIMD pin, the distribution's metadata and license
texts, and calls from several threads (the free-threaded build declares it needs no GIL)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import threading
from importlib import metadata

import numpy as np
import pytest

import softgrad as sg

LEVELS = ("scalar", "avx2", "avx512")


def _level(env_value: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SOFTGRAD_SIMD"}
    if env_value is not None:
        env["SOFTGRAD_SIMD"] = env_value
    return subprocess.run(
        [sys.executable, "-c", "import softgrad; print(softgrad.simd_level())"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )


def test_simd_pin_took_effect() -> None:
    """The test command runs the suite with SOFTGRAD_SIMD=scalar and =avx2: the pin must hold (a
    level above the CPU's best falls back to the best), or that run would not test what it says."""
    best = _level(None).stdout.strip()
    assert best in LEVELS
    pin = os.environ.get("SOFTGRAD_SIMD", "").strip()
    want = best if pin not in LEVELS else min(pin, best, key=LEVELS.index)
    assert sg.simd_level() == want


def test_unknown_simd_value_is_reported_and_ignored() -> None:
    best = _level(None).stdout.strip()
    proc = _level("avx3")
    assert proc.stdout.strip() == best
    assert 'softgrad: ignoring SOFTGRAD_SIMD="avx3"' in proc.stderr, proc.stderr
    assert "expected scalar, avx2 or avx512" in proc.stderr


def test_distribution_metadata_and_license_texts() -> None:
    dist = metadata.distribution("softgrad")
    assert dist.version == sg.__version__
    assert dist.metadata["License-Expression"] == "MIT OR Apache-2.0"
    assert sorted(dist.metadata.get_all("License-File") or []) == ["LICENSE-APACHE", "LICENSE-MIT"]
    assert "Typing :: Typed" in (dist.metadata.get_all("Classifier") or [])
    files = {f.name: f for f in dist.files or [] if "licenses" in f.parts}
    assert set(files) == {"LICENSE-APACHE", "LICENSE-MIT"}
    assert "Apache License" in files["LICENSE-APACHE"].read_text()
    assert "Permission is hereby granted" in files["LICENSE-MIT"].read_text()


def test_calls_from_several_threads_agree_with_one() -> None:
    """Several Python threads calling at once (the GIL is released around the kernels, and absent on
    a free-threaded build) get the bits a lone call gets."""
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal((64, 257)) for _ in range(8)]
    want = [(sg.softmax(x, axis=1), sg.logsumexp(x, axis=0)) for x in xs]
    got: list[object] = [None] * len(xs)

    def work(i: int) -> None:
        for _ in range(20):
            got[i] = (sg.softmax(xs[i], axis=1), sg.logsumexp(xs[i], axis=0))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (s, lse), g in zip(want, got, strict=True):
        assert isinstance(g, tuple)
        np.testing.assert_array_equal(g[0], s)
        np.testing.assert_array_equal(g[1], lse)


def test_import_keeps_the_gil_disabled_on_free_threaded_builds() -> None:
    """On a free-threaded CPython, importing softgrad must not turn the GIL back on (the module
    declares `gil_used = false`)."""
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        pytest.skip("not a free-threaded CPython")
    code = "import sys, softgrad; print(sys._is_gil_enabled())"
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == "False", out.stderr
