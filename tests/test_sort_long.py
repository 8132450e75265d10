"""soft_rank / soft_sort on one long row (past two pieces of the long-row path: PAV in fixed
pieces with the seams pooled, the outputs and the l2 rank pullback on the threads): the same bits on
1, 2 and 3 threads, and the values of the plain-Python PAV oracle."""

from __future__ import annotations

import numpy as np
import pytest

import softgrad as sg
from oracles import sort as oracle

N = 2 * 65536 + 5  # two pieces of the long-row path and a few values


def lane(kind: str, rng: np.random.Generator) -> np.ndarray:
    u = rng.standard_normal(N)
    if kind == "noise":  # many small blocks at strength 1e-6
        return u
    return np.arange(N) * 1e-5 + 0.3 * u  # blocks of every size, some across the seams


@pytest.mark.parametrize("kind", ["noise", "ramp"])
@pytest.mark.parametrize("strength", [1e-6, 1e-2])
@pytest.mark.parametrize("reg", ["l2", "kl"])
def test_long_rank_threads_do_not_matter_and_match_the_oracle(kind, strength, reg, rng) -> None:
    x = lane(kind, rng)[None, :]
    g = rng.standard_normal(x.shape)
    out, pb = sg.vjp(sg.soft_rank, x, strength=strength, regularization=reg, n_threads=1)
    gx = pb(g).x
    for n in (2, 3):
        out_n, pb_n = sg.vjp(sg.soft_rank, x, strength=strength, regularization=reg, n_threads=n)
        np.testing.assert_array_equal(out_n, out)
        np.testing.assert_array_equal(pb_n(g).x, gx)
    if reg == "l2" and kind == "ramp":
        want = oracle.soft_rank(x[0], strength=strength, regularization=reg)
        np.testing.assert_allclose(out[0], want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("reg", ["l2", "kl"])
def test_long_sort_threads_do_not_matter(reg, rng) -> None:
    x = lane("ramp", rng)[None, :]
    one = sg.soft_sort(x, strength=1e-2, regularization=reg, n_threads=1)
    for n in (2, 3):
        np.testing.assert_array_equal(sg.soft_sort(x, strength=1e-2, regularization=reg, n_threads=n), one)
    assert np.all(np.diff(one[0]) >= 0)
