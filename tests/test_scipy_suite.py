"""scipy's own tests of ``logsumexp``, ``softmax`` and ``log_softmax``, run against softgrad.

The module ``scipy/special/tests/test_logsumexp.py`` of the installed scipy is run by pytest in a
subprocess (so that scipy's ``conftest.py``, with its ``xp`` fixture, applies and nothing of
scipy's is copied here), with this file loaded as a plugin (``-p test_scipy_suite``): at collection,
the plugin rebinds the names ``logsumexp``, ``softmax`` and ``log_softmax`` of the test module to
softgrad's functions. Only scipy's defaults differ: ``softmax`` and ``log_softmax`` are called with
``axis=None`` by default, scipy's default (softgrad's is ``-1``). The NumPy backend only
(``SCIPY_ARRAY_API`` unset).

The plugin writes the outcome of every case to a JSON file; the test below requires that cases
were collected, that every one of them passed (none skipped, none expected to fail) and that
softgrad's functions were the ones called, and reports the count (``-rA`` or the terminal summary
of ``conftest.py`` show it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import softgrad as sg

SCIPY_MODULE = "scipy.special.tests.test_logsumexp"
# scipy 1.17 has 407 cases; fewer means the module changed or collection went wrong.
MIN_CASES = 400

# -- the plugin side (active only in the subprocess, loaded with ``-p test_scipy_suite``) ---------

CALLS: Counter[str] = Counter()


def _logsumexp(
    a: Any, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False
) -> Any:
    CALLS["logsumexp"] += 1
    return sg.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)


def _softmax(x: Any, axis: Any = None) -> Any:
    CALLS["softmax"] += 1
    return sg.softmax(x, axis=axis)


def _log_softmax(x: Any, axis: Any = None) -> Any:
    CALLS["log_softmax"] += 1
    return sg.log_softmax(x, axis=axis)


SUBSTITUTES = {"logsumexp": _logsumexp, "softmax": _softmax, "log_softmax": _log_softmax}
_OUTCOMES: dict[str, str] = {}


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    for item in items:
        module = item.module
        if module.__name__.endswith("test_logsumexp"):
            for name, fn in SUBSTITUTES.items():
                assert hasattr(module, name), f"scipy's test module has no {name}"
                setattr(module, name, fn)


def pytest_runtest_logreport(report: Any) -> None:
    if report.when == "call" or report.outcome != "passed":
        # an error in setup/teardown, a skip or an xfail counts as that case's outcome
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        if report.when != "call" and report.outcome == "failed":
            outcome = "error"
        _OUTCOMES.setdefault(report.nodeid, outcome)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    path = os.environ.get("SOFTGRAD_SCIPY_SUITE_REPORT")
    if path:
        data = {"collected": session.testscollected, "outcomes": _OUTCOMES, "calls": dict(CALLS)}
        Path(path).write_text(json.dumps(data))


# -- the test (in softgrad's own run) ---------------------------------------------------------


def _scipy_test_file() -> Path:
    spec = importlib.util.find_spec(SCIPY_MODULE)
    if spec is None or spec.origin is None:
        pytest.fail(f"{SCIPY_MODULE} is not in the installed scipy (a scipy wheel ships its tests)")
    return Path(spec.origin)


def test_scipy_logsumexp_suite_passes_in_full(tmp_path: Path, record_property: Any) -> None:
    scipy_file = _scipy_test_file()
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "SCIPY_ARRAY_API"}  # the NumPy backend only
    env["SOFTGRAD_SCIPY_SUITE_REPORT"] = str(report)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # none of softgrad's pytest settings
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "test_scipy_suite",
        "-c",
        str(tmp_path / "pytest.ini"),
        "--rootdir",
        str(scipy_file.parents[3]),  # site-packages: scipy's conftest.py is scipy/conftest.py
        str(scipy_file),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
    assert report.exists(), f"the scipy suite did not run:\n{tail}"
    data = json.loads(report.read_text())
    outcomes = Counter(data["outcomes"].values())
    failed = sorted(k for k, v in data["outcomes"].items() if v != "passed")
    summary = f"scipy's {SCIPY_MODULE}: {outcomes['passed']} of {data['collected']} cases passed"
    record_property("scipy_suite", summary)
    SUMMARY.append(summary)
    assert data["collected"] >= MIN_CASES, f"only {data['collected']} cases collected:\n{tail}"
    assert set(data["calls"]) == set(SUBSTITUTES), (
        f"softgrad's functions were not all called: {data['calls']}"
    )
    assert not failed, f"{summary}; not passed: {failed[:20]}\n{tail}"
    assert outcomes["passed"] == data["collected"] and proc.returncode == 0, f"{summary}\n{tail}"


SUMMARY: list[str] = []


def test_the_substitutes_are_softgrad() -> None:
    # A cheap check that the plugin's names compute softgrad's results (scipy's default axis).
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(_softmax(x), sg.softmax(x, axis=None))
    np.testing.assert_allclose(_log_softmax(x), sg.log_softmax(x, axis=None))
    assert _logsumexp(x) == sg.logsumexp(x)
