"""``python -m softgrad demo`` (the README's first command) runs and shows right answers."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_demo_runs_and_its_figures_are_right() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "softgrad", "demo"], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "logsumexp([1000, 1000])         = 1000.693147180559" in out
    # the fused cross-entropy agrees with NumPy by hand
    loss = re.search(r"loss (\S+) \(NumPy (\S+)\), max \|grad difference\| (\S+)", out)
    assert loss is not None, out
    assert abs(float(loss[1]) - float(loss[2])) < 1e-12 and float(loss[3]) < 1e-15
    # soft ranks reach scipy's average ranks at a small strength
    assert "strength 0.001  soft_rank = [4.  1.  2.5 2.5]" in out
    # finite differences: the error falls with the order
    errors = [float(e) for e in re.findall(r"relative error (\S+)", out)]
    assert len(errors) == 4 and errors[0] < 1e-6 and errors[1] < 1e-9 and errors[2] < 1e-12, errors
    assert out.count("x\n") >= 3  # the speed lines print their ratios
