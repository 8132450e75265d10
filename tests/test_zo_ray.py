"""Ray as the executor of randomized and finite-difference estimates: a local Ray cluster
(``ray.init``, worker processes on this machine) behind a ``concurrent.futures.Executor`` gives the
serial estimate bit for bit. Ray is in the test extra, so the test command runs this; it is skipped
only where ray is not installed.

Ray has no ``concurrent.futures.Executor`` of its own; ``ray.util.multiprocessing.Pool`` is wrapped
by the ten-line adapter below, which is also the recipe the documentation gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

import numpy as np
import pytest
from scipy.optimize import rosen

from softgrad import gradient

ray = pytest.importorskip("ray")

X5 = np.random.default_rng(7).uniform(-1.5, 1.5, 5)


class RayPoolExecutor(Executor):
    """A ``ray.util.multiprocessing.Pool`` as a ``concurrent.futures.Executor``."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        self.pool.apply_async(fn, args, kwargs, callback=fut.set_result, error_callback=fut.set_exception)
        return fut

    def map(
        self, fn: Callable[..., Any], *its: Iterable[Any], timeout: Any = None, chunksize: int = 1
    ) -> Iterator[Any]:
        return iter(self.pool.starmap(fn, zip(*its, strict=True)))


def _rosen_rows(X: Any) -> Any:  # module level: picklable for worker processes
    return np.sum(100.0 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1 - X[:, :-1]) ** 2, axis=1)


@pytest.fixture(scope="module")
def ray_executor() -> Iterator[Executor]:
    from ray.util.multiprocessing import Pool

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        with Pool(processes=2) as pool:
            yield RayPoolExecutor(pool)
    finally:
        ray.shutdown()


def test_a_ray_pool_gives_the_serial_estimate(ray_executor: Executor) -> None:
    pool = ray_executor
    for method in ("spsa", "gaussian"):
        want = gradient(rosen, X5, method=method, n_samples=8, seed=3, full_output=True)
        got = gradient(rosen, X5, method=method, n_samples=8, seed=3, executor=pool, full_output=True)
        np.testing.assert_array_equal(got.grad, want.grad)
        np.testing.assert_array_equal(got.variance, want.variance)
    want = gradient(rosen, X5, method="central", order=4)
    np.testing.assert_array_equal(gradient(rosen, X5, method="central", order=4, executor=pool), want)
    vec = gradient(_rosen_rows, X5, vectorized=True, batch_size=4, executor=pool, method="spsa", seed=1)
    np.testing.assert_array_equal(vec, gradient(_rosen_rows, X5, vectorized=True, method="spsa", seed=1))
