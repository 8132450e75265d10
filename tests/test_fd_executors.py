"""softgrad.gradient / jacobian / hessian with an ``executor=``: thread and process pools and a real
``dask.distributed.LocalCluster`` (processes), each giving the serial estimate bit for bit.

The cluster is started once for the module (about two seconds); dask[distributed] is in the test
extra so that this runs, never skips.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.optimize import rosen, rosen_der

from softgrad import gradient, hessian, jacobian

X5 = np.random.default_rng(7).uniform(-1.5, 1.5, 5)


class Boom(Exception):
    pass


def comp(x: NDArray[Any]) -> Any:
    return np.sum(np.sin(x) * np.exp(0.5 * x)) + np.exp(np.sum(x) / x.size)


def _rosen_rows(X: NDArray[Any]) -> NDArray[Any]:  # module level: picklable for process pools
    return np.asarray(np.sum(100.0 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1 - X[:, :-1]) ** 2, axis=1))


def _fails_at_negative_first(v: NDArray[Any]) -> float:
    if v[0] < X5[0] - 1e-7:
        raise Boom("at", float(v[0]))
    return float(np.sum(v))


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_an_executor_gives_the_serial_estimate(kind: str) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    pool: Any = (
        ThreadPoolExecutor(3)
        if kind == "threads"
        else ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
    )
    with pool:
        for method in ("forward", "central", "richardson"):
            want = gradient(rosen, X5, method=method, full_output=True)
            got = gradient(rosen, X5, method=method, executor=pool, full_output=True)
            np.testing.assert_array_equal(got.grad, want.grad)
            assert got.nfev == want.nfev
            vec = gradient(_rosen_rows, X5, method=method, vectorized=True, batch_size=3, executor=pool)
            np.testing.assert_array_equal(vec, gradient(_rosen_rows, X5, method=method, vectorized=True))
        jv = jacobian(_rosen_rows, X5[None], vectorized=True, batch_size=4, executor=pool, bounds=(X5, 9))
        np.testing.assert_array_equal(jv, jacobian(_rosen_rows, X5[None], vectorized=True, bounds=(X5, 9)))
        with pytest.raises(Boom) as info:
            gradient(_fails_at_negative_first, X5, method="central", executor=pool)
        assert info.value.args[0] == "at"
        assert any("evaluation point 0" in n for n in getattr(info.value, "__notes__", []))
        # central: point 0 is x - h e_0
        with pytest.raises(
            ValueError, match=r"^gradient: f returned a non-finite value \(nan\) at evaluation point 0 "
        ):
            gradient(_nan_below, X5, executor=pool)


def _nan_below(v: NDArray[Any]) -> float:
    return float("nan") if v[0] < X5[0] else float(np.sum(v))


def test_executor_must_be_an_executor() -> None:
    with pytest.raises(TypeError, match=r"^gradient: executor must be a concurrent.futures.Executor"):
        gradient(comp, X5, executor=map)


def _tridiag(v: NDArray[Any]) -> NDArray[Any]:
    return v**2 + np.r_[v[1:], 0.0] * np.r_[0.0, v[:-1]]


@pytest.fixture(scope="module")
def dask_executor() -> Iterator[Any]:
    from dask import distributed  # in the test extra: a missing install fails, never skips

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client.get_executor()


def test_a_dask_local_cluster_gives_the_serial_estimate(dask_executor: Any) -> None:
    pool = dask_executor
    want = gradient(rosen, X5, method="central", order=4)
    np.testing.assert_array_equal(gradient(rosen, X5, method="central", order=4, executor=pool), want)
    vec = gradient(_rosen_rows, X5, vectorized=True, batch_size=4, executor=pool)
    np.testing.assert_array_equal(vec, gradient(_rosen_rows, X5, vectorized=True))


def test_a_dask_local_cluster_serves_sparse_jacobians_and_hessians(dask_executor: Any) -> None:
    pool = dask_executor
    n = 30
    x = np.linspace(-1, 1, n)
    tri = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) <= 1
    want = jacobian(_tridiag, x, sparsity=tri)
    got = jacobian(_tridiag, x, sparsity=tri, executor=pool)
    np.testing.assert_array_equal(got.toarray(), want.toarray())
    hw = hessian(rosen, x[:6])
    np.testing.assert_array_equal(hessian(rosen, x[:6], executor=pool), hw)
    hs = hessian(None, x, grad=rosen_der, sparsity=tri, executor=pool)
    np.testing.assert_array_equal(hs.toarray(), hessian(None, x, grad=rosen_der, sparsity=tri).toarray())
