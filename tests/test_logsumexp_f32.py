"""float32 accuracy of log-softmax in ulps, against float64 computed from the same float32 input.

The sums behind log-softmax's ``ln S`` take the exponentials of ``exp_store`` (exponent carried in
two parts) for float32 rows: with the one-part float32 exponent of the plain sums, a term lost up to
``|x - m|/t`` ulps, which reached 2.5 ulps of the result at ``t = 0.7`` and 10 ulps with values ten
times as spread.
"""

from __future__ import annotations

import numpy as np
import pytest

import softgrad as sg


def ulps(got: np.ndarray, x: np.ndarray, t: float, axis: int) -> float:
    # (x - m)/t - log1p(Σ_{x<m} e^{(x - m)/t} + count(x = m) - 1) in float64: near z = 0 (the
    # maximum of a row whose other entries are far below) ``x/t - logsumexp(x/t)`` cancels.
    x64 = x.astype(np.float64)
    m = x64.max(axis=axis, keepdims=True)
    d = (x64 - m) / t
    rest = np.where(x64 == m, 0.0, np.exp(d)).sum(axis=axis, keepdims=True)
    ref = d - np.log1p(rest + (x64 == m).sum(axis=axis, keepdims=True) - 1)
    # Ulps of |z| floored at 2^-10: the maximum of a row gets -ln S with S rounded near 1 (as in
    # scipy and JAX), relatively inexact where S - 1 is below the float64 epsilon.
    ulp = np.spacing(np.maximum(np.abs(ref), 2.0**-10).astype(np.float32)).astype(np.float64)
    return float(np.max(np.abs(got.astype(np.float64) - ref) / ulp))


@pytest.mark.parametrize("t", [0.7, 1.0, 2.3])
@pytest.mark.parametrize("scale", [1.0, 3.0, 10.0])
@pytest.mark.parametrize("n", [10, 3000], ids=["narrow", "wide"])
def test_log_softmax_float32_rows_are_within_an_ulp_and_a_half(t, scale, n, rng) -> None:
    x = (rng.standard_normal((40, n)) * scale).astype(np.float32)
    z = sg.log_softmax(x, 1, temperature=t)
    assert z.dtype == np.float32
    assert ulps(z, x, t, 1) <= 1.5
