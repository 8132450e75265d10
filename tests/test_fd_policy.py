"""``nan_policy``, ``progress`` and the complex-step check of softgrad.gradient / jacobian
(python/softgrad/_fd_eval.py, rust/softgrad-core/src/estimate/fd/assemble.rs)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from softgrad import gradient, hessian, jacobian

X4 = np.array([0.3, -0.7, 1.1, 0.5])


def smooth(v: NDArray[Any]) -> float:
    return float(np.sum(np.sin(v) * np.exp(0.5 * v)))


def smooth_grad(v: NDArray[Any]) -> NDArray[Any]:
    return (np.cos(v) + 0.5 * np.sin(v)) * np.exp(0.5 * v)


def nan_above(c: float, i: int = 0) -> Any:
    """smooth, but NaN where v[i] > c."""

    def f(v: NDArray[Any]) -> float:
        return float("nan") if v[i] > c else smooth(v)

    return f


@pytest.mark.parametrize(
    ("method", "order", "tol"),
    [
        ("central", 2, 1e-4),
        ("central", 4, 1e-6),
        ("central", 8, 1e-7),
        ("forward", 3, 1e-4),
        ("richardson", 2, 1e-7),
    ],
)
def test_omit_falls_back_to_the_other_nodes(method: str, order: int, tol: float) -> None:
    # every node above x[0] in coordinate 0 is NaN (forward: all but the first)
    f = nan_above(
        X4[0]
        + (
            1.5 * gradient(smooth, X4, method=method, order=order, full_output=True).step[0]
            if method == "forward"
            else 0.0
        )
    )
    with pytest.raises(
        ValueError, match=r"^gradient: f returned a non-finite value \(nan\) at evaluation point \d+ .*'omit'"
    ):
        gradient(f, X4, method=method, order=order)
    r = gradient(f, X4, method=method, order=order, nan_policy="omit", full_output=True)
    want = smooth_grad(X4)
    assert abs(r.grad[0] - want[0]) < tol
    np.testing.assert_array_equal(r.grad[1:], gradient(smooth, X4, method=method, order=order)[1:])
    # the fall-back needed f(x): one more evaluation where the method had none
    plain = gradient(smooth, X4, method=method, order=order, full_output=True)
    assert r.nfev == plain.nfev + (0 if method == "forward" else 1)


def test_omit_in_richardson_keeps_the_whole_steps() -> None:
    # NaN only far out: the largest steps' stencils are cut, the small ones are whole
    f = nan_above(X4[1] + 0.02, 1)  # steps 0.063 and 0.031 are cut, 0.016 ... 0.002 whole
    r = gradient(f, X4, method="richardson", nan_policy="omit", full_output=True)
    assert abs(r.grad[1] - smooth_grad(X4)[1]) < 1e-9
    assert np.all(np.abs(r.grad - smooth_grad(X4)) <= r.error + 1e-12)


def test_omit_with_too_few_values_and_at_x_still_raises() -> None:
    with pytest.raises(ValueError, match=r"^gradient: nan_policy 'omit' leaves fewer than two finite values"):
        gradient(lambda v: float("nan") if v[0] != X4[0] else smooth(v), X4, nan_policy="omit")
    with pytest.raises(ValueError, match=r"^gradient: f returned a non-finite value \(nan\) at x"):
        gradient(lambda v: float("nan"), X4, method="forward", nan_policy="omit")
    with pytest.raises(ValueError, match=r"complex step has one"):
        gradient(
            lambda v: np.sum(v) if v[0].imag == 0 else complex("nan+nanj"),
            X4,
            method="complex",
            nan_policy="omit",
        )
    with pytest.raises(ValueError, match=r"^gradient: nan_policy must be 'raise' or 'omit', got 'ignore'"):
        gradient(smooth, X4, nan_policy="ignore")


def test_omit_in_jacobians_sparse_ones_and_hessians_from_a_gradient() -> None:
    def f(v: NDArray[Any]) -> NDArray[Any]:
        out = np.sin(v) * v
        if v[2] > X4[2]:
            out[2] = np.inf  # only output 2 is bad there
        return out

    want = np.diag(np.cos(X4) * X4 + np.sin(X4))
    J = jacobian(f, X4, nan_policy="omit")
    np.testing.assert_allclose(J, want, atol=1e-5)
    Js = jacobian(f, X4, nan_policy="omit", sparsity=np.eye(4, dtype=bool))
    np.testing.assert_allclose(Js.toarray(), want, atol=1e-5)
    H = hessian(None, X4, grad=lambda v: np.where(v > X4 + 1e-9, np.nan, smooth_grad(v)), nan_policy="omit")
    np.testing.assert_allclose(H, np.diag((np.cos(X4) - 0.75 * np.sin(X4)) * np.exp(0.5 * X4)), atol=1e-5)


def test_omit_with_vectorized_f_and_an_executor() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def fv(X: NDArray[Any]) -> NDArray[Any]:
        return np.array([nan_above(X4[0])(p) for p in X])

    want = gradient(nan_above(X4[0]), X4, nan_policy="omit")
    np.testing.assert_array_equal(gradient(fv, X4, vectorized=True, batch_size=3, nan_policy="omit"), want)
    with ThreadPoolExecutor(2) as pool:
        np.testing.assert_array_equal(gradient(nan_above(X4[0]), X4, nan_policy="omit", executor=pool), want)


def test_progress_shows_a_bar_of_the_evaluations(capsys: Any, monkeypatch: Any) -> None:
    tqdm_auto = pytest.importorskip("tqdm.auto")  # optional: softgrad[progress]
    bars: list[Any] = []

    class Recorded(tqdm_auto.tqdm):  # type: ignore[misc, name-defined]
        def close(self) -> None:
            if not getattr(self, "recorded", False):  # tqdm closes again when collected
                self.recorded = True
                bars.append((self.desc, self.n, self.total))
            super().close()

    monkeypatch.setattr(tqdm_auto, "tqdm", Recorded)
    g = gradient(smooth, X4, progress=True)
    np.testing.assert_array_equal(g, gradient(smooth, X4))
    assert "softgrad.gradient" in capsys.readouterr().err
    jacobian(lambda v: v**2, X4, sparsity=np.eye(4, dtype=bool), progress=True)
    hessian(smooth, X4, progress=True)
    gradient(lambda X: np.sum(X, axis=1), X4, vectorized=True, batch_size=3, progress=True)
    assert bars == [
        ("softgrad.gradient", 8, 8),
        ("softgrad.jacobian", 2, 2),
        ("softgrad.hessian", 21, 21),
        ("softgrad.gradient", 8, 8),
    ]


def test_progress_without_tqdm_is_an_import_error_naming_the_extra(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # None in sys.modules: the import fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    calls = []
    with pytest.raises(ImportError, match=r"^gradient: progress=True needs tqdm.*softgrad\[progress\]"):
        gradient(lambda v: calls.append(1) or 0.0, X4, progress=True)
    assert not calls
    assert gradient(smooth, X4, progress=False).shape == (4,)
    with pytest.raises(TypeError, match=r"^gradient: progress must be a bool"):
        gradient(smooth, X4, progress="yes")


def test_complex_step_on_an_f_that_keeps_complex_type_but_drops_the_imaginary_part() -> None:
    def dropped(v: NDArray[Any]) -> complex:  # x.real inside, complex outside: a silent zero before
        return complex(np.sum(np.sin(v.real))) + 0j

    with pytest.raises(
        ValueError, match=r"^gradient: f returned complex values with imaginary parts all exactly 0"
    ):
        gradient(dropped, X4, method="complex")
    with pytest.raises(ValueError, match=r"drops the imaginary part"):
        jacobian(lambda v: np.sin(v.real) + 0j, X4, method="complex", sparsity=np.eye(4, dtype=bool))
    # a truly constant f is no false alarm
    r = gradient(lambda v: np.complex128(3.0), X4, method="complex", full_output=True)
    assert np.all(r.grad == 0) and r.nfev == 4 + 2
    # the real-returning case is still caught
    with pytest.raises(ValueError, match="drops the imaginary part"):
        gradient(lambda v: float(np.sum(v.real**2)), X4, method="complex")
