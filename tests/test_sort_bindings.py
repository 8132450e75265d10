"""The bindings of the soft sort family (softgrad._core.sort), called directly: the checks that
tests/test_robustness.py makes of the log-sum-exp family's bindings (its Case rows assume a
temperature), for this family's."""

from __future__ import annotations

import numpy as np
import pytest


def _unaligned(a: np.ndarray) -> np.ndarray:
    buf = bytearray(a.nbytes + 1)
    u = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
    u[...] = a
    return u


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", ["sort", "rank", "topk"])
def test_bindings_take_unaligned_and_read_only_arrays_and_check_dtypes_and_threads(dtype, op, rng) -> None:
    from softgrad._core import sort as K

    name = {"sort": "soft_sort", "rank": "soft_rank", "topk": "soft_topk"}[op]
    layout = (3, 700, 2)  # inner > 1: the strided driver
    x = rng.standard_normal(3 * 700 * 2).astype(dtype)
    g = rng.standard_normal(x.size).astype(dtype)
    want, res = K.forward(x, layout, op, "l2", 0.7, False, None, True, 5)
    assert res is not None
    gx, ge = K.vjp(res, g)
    tan = K.jvp(res, g, 0.3)
    ro = x.copy()
    ro.flags.writeable = False
    for arr in (_unaligned(x), ro):
        before = arr.copy()
        np.testing.assert_array_equal(K.forward(arr, layout, op, "l2", 0.7, False, None, False, 5)[0], want)
        np.testing.assert_array_equal(arr, before)
    for gg in (_unaligned(g), g.copy()):
        gg2, ge2 = K.vjp(res, gg)
        np.testing.assert_array_equal(gg2, gx)
        assert ge2 == ge
        np.testing.assert_array_equal(K.jvp(res, gg, 0.3), tan)
    for n in (1, 2, 3):
        np.testing.assert_array_equal(K.forward(x, layout, op, "l2", 0.7, False, n, False, 5)[0], want)
        np.testing.assert_array_equal(K.vjp(res, g, n)[0], gx)
    other = np.float32 if dtype == np.float64 else np.float64
    for bad in (x.astype(np.int64), x.astype(np.float16), x.tolist()):
        with pytest.raises(TypeError, match=rf"^{name}: x must be a .*ndarray, got"):
            K.forward(bad, layout, op, "l2", 0.7, False)
    with pytest.raises(TypeError, match=rf"^{name}: x must be C-contiguous"):
        K.forward(np.repeat(x, 2)[::2], layout, op, "l2", 0.7, False)
    with pytest.raises(TypeError, match=rf"^{name}: g must be a .*ndarray, got"):
        K.vjp(res, np.int64(1) * g.astype(np.int64))
    assert K.vjp(res, g.astype(other))[0].dtype == other  # a pullback in the cotangent's dtype
    with pytest.raises(TypeError, match=rf"^{name}: n_threads must be an int, got True"):
        K.forward(x, layout, op, "l2", 0.7, False, True)
    with pytest.raises(ValueError, match=rf"^{name}: n_threads must be in 1\.\.="):
        K.vjp(res, g, 10**9)
    with pytest.raises(ValueError, match=rf"^{name}: x has length"):
        K.forward(x, (3, 701, 2), op, "l2", 0.7, False)
    with pytest.raises(ValueError, match=rf"^{name}: g has length"):
        K.vjp(res, g[:-1])
    for bad_s in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match=rf"^{name}: strength must be finite and > 0"):
            K.forward(x, layout, op, "l2", bad_s, False)
    with pytest.raises(ValueError, match=rf"^{name}: regularization must be 'l2' or 'kl', got \"l1\""):
        K.forward(x, layout, op, "l1", 0.7, False)
    with pytest.raises(ValueError, match=r"^sort.forward: op must be"):
        K.forward(x, layout, "median", "l2", 0.7, False)
    with pytest.raises(ValueError, match=rf"^{name}: lengths must be >= 0"):
        K.forward(x, layout, op, "l2", 0.7, False, None, False, 0, np.full(6, -1, np.int64))
