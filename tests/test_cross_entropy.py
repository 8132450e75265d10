"""softgrad.softmax_cross_entropy against the hand-written NumPy version (``oracles/cross_entropy.py``).

Values and logit gradients for every option (hypothesis), sizes past the kernel's pieces and lane
blocks, special values, hostile input, and the README recipe (softmax regression trained with
scipy's L-BFGS-B) against the same training with a NumPy loss. Derivatives with respect to every
parameter are checked against finite differences by the generic test (``test_autodiff.py``) on the
op's registered examples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import softgrad as sg
from conftest import call_strict, shapes
from oracles import cross_entropy as orc

F = sg.softmax_cross_entropy


def tolerance(dtype: Any) -> dict[str, float]:
    return {"rtol": 2e-5, "atol": 2e-6} if np.dtype(dtype) == np.float32 else {"rtol": 1e-11, "atol": 1e-13}


@st.composite
def problems(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    ndim = len(shape)
    axis = draw(st.integers(-ndim, ndim - 1))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1.0, 10.0, 300.0]))
    logits = (scale * rng.standard_normal(shape)).astype(dtype)
    k = shape[axis]
    sample_shape = shape[: axis % ndim] + shape[axis % ndim + 1 :]
    if draw(st.booleans()):
        labels: Any = rng.integers(0, k, sample_shape)
    else:
        labels = rng.uniform(0, 1, shape).astype(dtype)
        labels[rng.uniform(size=shape) < 0.3] = 0.0
    weights = draw(st.sampled_from(["none", "positive", "zeros"]))
    w = None
    if weights != "none":
        w = rng.uniform(0.1, 2.0, sample_shape).astype(dtype)
        if weights == "zeros":
            w[rng.uniform(size=sample_shape) < 0.5] = 0.0
    return dict(
        logits=logits,
        labels=labels,
        axis=axis,
        label_smoothing=draw(st.sampled_from([0.0, 0.1, 1.0, 0.37])),
        sample_weight=w,
        reduction=draw(st.sampled_from(["mean", "sum", "none"])),
        temperature=draw(st.sampled_from([1.0, 0.3, 2.5])),
    )


@given(problems())
def test_value_and_gradient_match_the_numpy_version(kw: dict[str, Any]) -> None:
    dtype = kw["logits"].dtype
    want = orc.softmax_cross_entropy(**kw)
    got = call_strict(F, **kw)
    assert np.asarray(got).dtype == dtype
    assert np.shape(got) == np.shape(want)
    if kw["reduction"] == "mean" and kw["sample_weight"] is not None and not np.any(kw["sample_weight"]):
        assert np.isnan(got)
        return
    np.testing.assert_allclose(got, want, **tolerance(dtype))
    out, pullback = call_strict(sg.vjp, F, **kw)
    np.testing.assert_array_equal(out, got)
    ct = np.random.default_rng(1).standard_normal(np.shape(out)) if kw["reduction"] == "none" else 0.7
    cts = call_strict(pullback, ct)
    assert cts.logits.dtype == dtype and cts.logits.shape == kw["logits"].shape
    gw = orc.grad_logits(**kw, ct=ct)
    np.testing.assert_allclose(cts.logits, gw, **tolerance(dtype))


def test_weighted_mean_is_sum_of_weighted_losses_over_sum_of_weights() -> None:
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [0.0, 0.0, 0.0]])
    labels = np.array([0, 1, 2])
    w = np.array([1.0, 3.0, 0.5])
    each = F(logits, labels, reduction="none")
    # by hand: -log softmax at the label
    by_hand = [-(row[c] - np.log(np.sum(np.exp(row)))) for row, c in zip(logits, labels, strict=True)]
    np.testing.assert_allclose(each, by_hand, rtol=1e-14)
    assert F(logits, labels, sample_weight=w) == pytest.approx(np.dot(w, each) / w.sum(), rel=1e-14)
    assert F(logits, labels, sample_weight=w, reduction="sum") == pytest.approx(np.dot(w, each), rel=1e-14)
    np.testing.assert_allclose(F(logits, labels, sample_weight=w, reduction="none"), w * each, rtol=1e-14)
    assert F(logits, labels) == pytest.approx(np.mean(each), rel=1e-14)
    # probabilities equal to the one-hot targets give the same losses
    np.testing.assert_allclose(F(logits, np.eye(3)[labels], reduction="none"), each, rtol=1e-14)


def test_label_smoothing_matches_torch_formula() -> None:
    # torch: (1 - eps) * nll + eps * mean_j(-log p_j)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4))
    c = rng.integers(0, 4, 6)
    logp = x - np.log(np.sum(np.exp(x), axis=1, keepdims=True))
    eps = 0.25
    want = (1 - eps) * -logp[np.arange(6), c] + eps * -logp.mean(axis=1)
    np.testing.assert_allclose(F(x, c, label_smoothing=eps, reduction="none"), want, rtol=1e-14)


@pytest.mark.parametrize(
    ("shape", "axis"),
    [
        ((5000, 10), -1),  # rows past a piece and a task
        ((3, 5000), -1),  # rows wider than a piece
        ((2, 40_000), 1),  # rows split inside (wider than the parallel threshold)
        ((700, 600), 0),  # a strided class axis, lane blocks wider than 512
        ((3, 50, 700), 1),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_sizes_and_threads(
    shape: tuple[int, ...], axis: int, dtype: Any, rng: np.random.Generator
) -> None:
    logits = (3 * rng.standard_normal(shape)).astype(dtype)
    sample_shape = shape[: axis % 2] + shape[axis % 2 + 1 :] if len(shape) == 2 else (3, 700)
    k = shape[axis]
    labels = rng.integers(0, k, sample_shape)
    w = rng.uniform(0, 2, sample_shape)
    kw = dict(axis=axis, sample_weight=w, label_smoothing=0.05, temperature=0.9)
    want = orc.softmax_cross_entropy(logits, labels, **kw)
    gw = orc.grad_logits(logits, labels, **kw)
    results = []
    for n in (1, 2, 3):
        out, pullback = sg.vjp(F, logits, labels, **kw, n_threads=n)
        results.append((out, pullback(1.0)))
    np.testing.assert_allclose(results[0][0], want, **tolerance(dtype))
    np.testing.assert_allclose(results[0][1].logits, gw, **tolerance(dtype))
    for out, cts in results[1:]:
        np.testing.assert_array_equal(out, results[0][0])
        for a, b in zip(cts, results[0][1], strict=True):
            np.testing.assert_array_equal(a, b)
    assert F(logits, labels, **kw, n_threads=2) == results[0][0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
@pytest.mark.parametrize("k", [10, 50])
def test_value_only_has_the_bits_of_the_call_with_a_gradient(
    k: int, temperature: float, dtype: Any, rng: np.random.Generator
) -> None:
    # Narrow float32 rows run in f32 lanes, and the value-only call finishes class targets in its own
    # loop: the loss keeps the bits of the call with a gradient.
    logits = (3 * rng.standard_normal((2000, k))).astype(dtype)
    logits[7, 3] = -np.inf
    labels = rng.integers(0, k, 2000)
    w = rng.uniform(0, 2, 2000)
    for reduction, weights in (("mean", None), ("none", None), ("sum", w)):
        kw: dict[str, Any] = {"temperature": temperature, "reduction": reduction, "sample_weight": weights}
        with_grad, _ = sg.vjp(F, logits, labels, **kw)
        for n in (1, 2):
            np.testing.assert_array_equal(F(logits, labels, **kw, n_threads=n), with_grad)
        np.testing.assert_allclose(
            with_grad, orc.softmax_cross_entropy(logits, labels, **kw), **tolerance(dtype)
        )


def test_probability_labels_on_large_inputs(rng: np.random.Generator) -> None:
    logits = rng.standard_normal((3000, 7))
    q = rng.dirichlet(np.ones(7), 3000)
    for axis, x, y in ((-1, logits, q), (0, logits.T.copy(), q.T.copy())):
        got = F(x, y, axis=axis, label_smoothing=0.2, reduction="none")
        np.testing.assert_allclose(
            got, orc.softmax_cross_entropy(x, y, axis=axis, label_smoothing=0.2, reduction="none"), rtol=1e-12
        )


def test_special_values() -> None:
    ninf = -np.inf
    x = np.array([[0.0, ninf, 1.0], [np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], [ninf, ninf, ninf]])
    c = np.array([2, 0, 1, 0])
    each = call_strict(F, x, c, reduction="none")
    assert each[0] == pytest.approx(np.log1p(np.exp(-1.0)))
    assert np.all(np.isnan(each[1:]))
    _, pullback = call_strict(sg.vjp, F, x[:1], c[:1])
    g = pullback(1.0).logits
    assert g[0, 1] == 0.0 and np.all(np.isfinite(g))
    # smoothing puts mass on the -inf logit: infinite loss
    assert call_strict(F, x[:1], c[:1], label_smoothing=0.1) == np.inf
    # a zero weight masks a sample, NaN or not
    w = np.array([1.0, 0.0, 0.0, 0.0])
    assert call_strict(F, x, c, sample_weight=w) == pytest.approx(each[0])
    np.testing.assert_array_equal(call_strict(F, x, c, sample_weight=w, reduction="none")[1:], 0.0)
    _, pullback = call_strict(sg.vjp, F, x, c, sample_weight=w)
    cts = pullback(1.0)
    np.testing.assert_array_equal(cts.logits[1:], 0.0)
    assert np.isfinite(cts.temperature)
    # NaN propagates to the mean; probabilities with zero mass on -inf are fine
    assert np.isnan(call_strict(F, x, c))
    q = np.array([[0.5, 0.0, 0.5]])
    assert np.isfinite(call_strict(F, x[:1], q))
    # no samples: the mean is NaN (torch's), the sum 0
    assert np.isnan(call_strict(F, np.zeros((0, 3)), np.zeros(0, int)))
    assert call_strict(F, np.zeros((0, 3)), np.zeros(0, int), reduction="sum") == 0.0


def test_dtypes_are_kept_and_promoted() -> None:
    x32 = np.zeros((2, 3), np.float32)
    assert F(x32, [0, 1]).dtype == np.float32
    assert F(x32, [0, 1], reduction="none").dtype == np.float32
    assert F(x32, np.full((2, 3), 1 / 3), sample_weight=np.ones(2)).dtype == np.float32
    assert F(np.zeros((2, 3), int), [0, 1]).dtype == np.float64
    assert F([1.0, 2.0, 3.0], 2).shape == ()
    assert isinstance(F([1.0, 2.0, 3.0], 2, reduction="none"), np.floating)
    assert F(x32, np.array([0, 1], np.uint8)) == pytest.approx(math.log(3))


def test_hostile_input_is_refused_naming_the_argument() -> None:
    x = np.zeros((4, 3))
    c = np.array([0, 1, 2, 0])
    for bad, name in (
        (dict(logits=x.astype(complex)), "logits"),
        (dict(logits="abc"), "logits"),
        (dict(labels=c.astype(float)), "labels"),
        (dict(labels=c.astype(bool)), "labels"),
        (dict(labels=np.ones((4, 3), complex)), "labels"),
        (dict(sample_weight=np.ones(4, complex)), "sample_weight"),
        (dict(temperature=np.ones(2)), "temperature"),
        (dict(label_smoothing="a"), "label_smoothing"),
        (dict(axis=1.5), "axis"),
        (dict(axis=(0, 1)), "axis"),
        (dict(n_threads=1.5), "n_threads"),
    ):
        kw = {"logits": x, "labels": c, **bad}
        with pytest.raises(TypeError, match=rf"^softmax_cross_entropy: {name}"):
            F(**kw)
    for bad, name in (
        (dict(labels=np.array([0, 1, 3, 0])), "labels"),
        (dict(labels=np.array([0, -1, 2, 0])), "labels"),
        (dict(labels=np.array([0, 1, 300, 0], np.uint16)), "labels"),
        (dict(labels=np.zeros(5, int)), "labels"),
        (dict(labels=np.zeros((4, 4))), "labels"),
        (dict(sample_weight=np.ones(3)), "sample_weight"),
        (dict(reduction="avg"), "reduction"),
        (dict(reduction=None), "reduction"),
        (dict(label_smoothing=-0.1), "label_smoothing"),
        (dict(label_smoothing=1.5), "label_smoothing"),
        (dict(label_smoothing=float("nan")), "label_smoothing"),
        (dict(temperature=0.0), "temperature"),
        (dict(temperature=float("inf")), "temperature"),
        (dict(axis=2), "axis"),
        (dict(logits=np.zeros((4, 0)), labels=np.zeros(4, int)), "logits"),
        (dict(logits=np.float64(1.0)), "logits"),
        (dict(n_threads=0), "n_threads"),
    ):
        kw = {"logits": x, "labels": c, **bad}
        with pytest.raises(ValueError, match=rf"^softmax_cross_entropy: {name}"):
            F(**kw)


def unaligned(a: np.ndarray) -> np.ndarray:
    buf = bytearray(a.nbytes + 1)
    u: np.ndarray = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
    u[...] = a
    return u


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_only_unaligned_and_strided_arrays_give_the_same_result_and_stay_unchanged(dtype: Any) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((40, 6)).astype(dtype)
    c = rng.integers(0, 6, 40)
    q = rng.uniform(size=(40, 6)).astype(dtype)
    w = rng.uniform(size=40).astype(dtype)
    for labels in (c, q):
        want = F(x, labels, sample_weight=w, reduction="none")
        _, pb = sg.vjp(F, x, labels, sample_weight=w)
        want_g = pb(1.0)
        for make in (unaligned, lambda a: np.require(a, requirements="C").copy().__array__()):
            args = [make(a) for a in (x, labels, w)]
            for a in args:
                a.flags.writeable = False
            before = [a.copy() for a in args]
            np.testing.assert_array_equal(F(args[0], args[1], sample_weight=args[2], reduction="none"), want)
            _, pb = sg.vjp(F, args[0], args[1], sample_weight=args[2])
            for u, v in zip(pb(1.0), want_g, strict=True):
                np.testing.assert_array_equal(u, v)
            for a, b in zip(args, before, strict=True):
                np.testing.assert_array_equal(a, b)
        # a non-contiguous view (copied once) gives the same bits
        big = np.zeros((40, 12), dtype)
        big[:, ::2] = x
        np.testing.assert_array_equal(F(big[:, ::2], labels, sample_weight=w, reduction="none"), want)


def test_the_gradient_is_the_pullback_of_a_unit_cotangent_chained_to_weights() -> None:
    # the README recipe's chain rule on a tiny problem, against finite differences
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    W = rng.standard_normal((4, 3))
    _, pullback = sg.vjp(F, X @ W, y)
    dW = X.T @ pullback(1.0).logits
    h = 1e-6
    for i, j in [(0, 0), (2, 1), (3, 2)]:
        E = np.zeros_like(W)
        E[i, j] = h
        fd = (F(X @ (W + E), y) - F(X @ (W - E), y)) / (2 * h)
        assert dW[i, j] == pytest.approx(fd, rel=1e-6)


# ---------------------------------------------------------------------------------------------
# the README recipe: softmax regression with scipy's L-BFGS-B


def digits_like(rng: np.random.Generator, n: int = 600, d: int = 20, k: int = 5) -> tuple[Any, Any]:
    """Noisy samples around ``k`` random class prototypes (a stand-in for scikit-learn's digits)."""
    protos = rng.standard_normal((k, d))
    y = rng.integers(0, k, n)
    X = protos[y] + 1.5 * rng.standard_normal((n, d))
    return X, y


def train(X: Any, y: Any, k: int, fun: Any) -> Any:
    from scipy.optimize import minimize

    d = X.shape[1]
    res = minimize(fun, np.zeros((d + 1) * k), args=(X, y, k), jac=True, method="L-BFGS-B")
    assert res.success, res.message
    return res


def loss_softgrad(theta: Any, X: Any, y: Any, k: int, lam: float = 1e-2) -> tuple[float, Any]:
    d = X.shape[1]
    W, b = theta[: d * k].reshape(d, k), theta[d * k :]
    loss, pullback = sg.vjp(sg.softmax_cross_entropy, X @ W + b, y)
    g = pullback(1.0).logits  # d loss / d logits, (n, k)
    dW, db = X.T @ g + lam * W, g.sum(axis=0)
    return float(loss) + 0.5 * lam * np.sum(W * W), np.concatenate([dW.ravel(), db])


def loss_numpy(theta: Any, X: Any, y: Any, k: int, lam: float = 1e-2) -> tuple[float, Any]:
    d, n = X.shape[1], X.shape[0]
    W, b = theta[: d * k].reshape(d, k), theta[d * k :]
    z = X @ W + b
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(n), y].mean()
    g = np.exp(logp)
    g[np.arange(n), y] -= 1.0
    g /= n
    dW, db = X.T @ g + lam * W, g.sum(axis=0)
    return float(loss) + 0.5 * lam * np.sum(W * W), np.concatenate([dW.ravel(), db])


def test_readme_recipe_trains_the_same_model_as_numpy() -> None:
    rng = np.random.default_rng(42)
    X, y = digits_like(rng)
    k = 5
    theta0 = rng.standard_normal((X.shape[1] + 1) * k)
    f1, g1 = loss_softgrad(theta0, X, y, k)
    f2, g2 = loss_numpy(theta0, X, y, k)
    assert f1 == pytest.approx(f2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-14)
    a, b = train(X, y, k, loss_softgrad), train(X, y, k, loss_numpy)
    assert a.fun == pytest.approx(b.fun, rel=1e-9)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-4, atol=1e-5)
    d = X.shape[1]
    pred = np.argmax(X @ a.x[: d * k].reshape(d, k) + a.x[d * k :], axis=1)
    assert np.mean(pred == y) > 0.8


def test_the_binding_checks_class_indices() -> None:
    from softgrad._core import cross_entropy as X

    rng = np.random.default_rng(2)
    x = rng.standard_normal(3 * 5 * 2)
    cls = rng.integers(0, 5, 6)
    args = dict(labels=None, sample_weight=None, layout=(3, 5, 2), temperature=1.0, label_smoothing=0.0)
    args.update(grad_scale=1.0, grad=True, losses=True)
    want = X.softmax_cross_entropy(x, classes=cls, **args)
    for bad in (cls.astype(np.int32), cls.astype(float), cls.tolist()):
        with pytest.raises(TypeError, match=r"^softmax_cross_entropy: classes must be an int64 ndarray, got"):
            X.softmax_cross_entropy(x, classes=bad, **args)
    with pytest.raises(TypeError, match=r"^softmax_cross_entropy: classes must be C-contiguous"):
        X.softmax_cross_entropy(x, classes=np.repeat(cls, 2)[::2], **args)
    ro = cls.copy()
    ro.flags.writeable = False
    for c in (unaligned(cls), ro):
        got = X.softmax_cross_entropy(x, classes=c, **args)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"^softmax_cross_entropy: give exactly one of labels and classes"):
        X.softmax_cross_entropy(x, classes=None, **args)
    with pytest.raises(ValueError, match=r"^softmax_cross_entropy: labels must be class indices in \[0, 5\)"):
        X.softmax_cross_entropy(x, classes=np.full(6, 5), **args)


def test_the_logits_cotangent_is_read_only_and_the_pullback_reusable(rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((50, 4)), rng.integers(0, 4, 50)
    _, pullback = sg.vjp(F, x, y)
    g1 = pullback(1.0).logits
    assert not g1.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        g1 += 1.0
    g2 = pullback(2.0).logits
    assert not g2.flags.writeable
    np.testing.assert_array_equal(g2, 2.0 * g1)
    np.testing.assert_array_equal(pullback(1.0).logits, g1)
    np.testing.assert_allclose(g1, orc.grad_logits(x, y), rtol=1e-12, atol=1e-15)
