"""Soft classification metrics (python/softgrad/metrics.py): hard limits against the thresholded
confusion matrix, multi-class one-vs-rest, training by the soft F1, and bad input. The derivatives
are checked generically by tests/test_autodiff.py on the registered examples."""

from __future__ import annotations

import numpy as np
import pytest

import softgrad as sg


def hard_confusion(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return np.array(
        [
            [np.sum((y == 0) & (pred == 0)), np.sum((y == 0) & (pred == 1))],
            [np.sum((y == 1) & (pred == 0)), np.sum((y == 1) & (pred == 1))],
        ],
        float,
    )


def test_large_amplifier_gives_the_hard_confusion_and_metrics(rng) -> None:
    y = rng.integers(0, 2, 200)
    s = np.clip(0.5 + 0.4 * rng.standard_normal(200), 0.0, 1.0)
    s[np.abs(s - 0.5) < 0.05] = 0.9  # away from the threshold
    c = hard_confusion(y, (s > 0.5).astype(int))
    got = sg.soft_confusion(y, s, amplifier=1e4)
    np.testing.assert_allclose(got, c, atol=1e-9)
    (tn, fp), (fn, tp) = c
    kw = {"amplifier": 1e4}
    np.testing.assert_allclose(sg.soft_f1(y, s, **kw), 2 * tp / (2 * tp + fn + fp), atol=1e-9)
    np.testing.assert_allclose(
        sg.soft_fbeta(y, s, beta=2.0, **kw), 5 * tp / (5 * tp + 4 * fn + fp), atol=1e-9
    )
    np.testing.assert_allclose(
        sg.soft_balanced_accuracy(y, s, **kw), (tp / (tp + fn) + tn / (tn + fp)) / 2, atol=1e-9
    )
    np.testing.assert_allclose(sg.soft_accuracy(y, s, **kw), (tp + tn) / 200, atol=1e-9)
    np.testing.assert_allclose(sg.soft_confusion(y, s, amplifier=2.0).sum(), 200)


def test_multiclass_is_one_vs_rest_macro(rng) -> None:
    labels = rng.integers(0, 3, 50)
    p = rng.dirichlet(np.ones(3), 50)
    conf = sg.soft_confusion(labels, p, amplifier=5.0)
    assert conf.shape == (3, 2, 2)
    for k in range(3):
        np.testing.assert_allclose(
            conf[k], sg.soft_confusion((labels == k).astype(float), p[:, k], amplifier=5.0)
        )
    f1 = np.mean([sg.soft_f1((labels == k).astype(float), p[:, k], amplifier=5.0) for k in range(3)])
    np.testing.assert_allclose(sg.soft_f1(labels, p, amplifier=5.0), f1, rtol=1e-12)
    assert sg.soft_accuracy(labels, p.astype(np.float32)).dtype == np.float32


def test_training_a_logistic_model_on_soft_f1_raises_f1() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 5))
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0, 1.0]) + 0.5 * rng.standard_normal(500) > 1.0).astype(
        int
    )  # imbalanced
    w = np.zeros(5)
    b = 0.0

    def hard_f1(w: np.ndarray, b: float) -> float:
        (_, fp), (fn, tp) = hard_confusion(y, (X @ w + b > 0).astype(int))
        return 2 * tp / max(2 * tp + fn + fp, 1)

    start = hard_f1(w + 1e-3, b)
    for _ in range(200):
        s = 1 / (1 + np.exp(-(X @ w + b)))
        _, pullback = sg.vjp(sg.soft_f1, y, s, amplifier=10.0)
        g = pullback(1.0).scores * s * (1 - s)
        w += 0.5 * X.T @ g
        b += 0.5 * g.sum()
    assert hard_f1(w, b) > max(0.8, start + 0.2)


def test_bad_input() -> None:
    s = np.array([0.2, 0.8, 0.6])
    with pytest.raises(ValueError, match=r"^soft_f1: amplifier must be finite and > 0"):
        sg.soft_f1([0, 1, 1], s, amplifier=0.0)
    with pytest.raises(ValueError, match=r"^soft_fbeta: beta must be finite and > 0"):
        sg.soft_fbeta([0, 1, 1], s, beta=-1.0)
    with pytest.raises(ValueError, match=r"^soft_confusion: y_true has shape \(2,\), expected \(3,\)"):
        sg.soft_confusion([0, 1], s)
    with pytest.raises(ValueError, match=r"^soft_accuracy: y_true must be in \[0, 1\]"):
        sg.soft_accuracy([0, 2, 1], s)
    with pytest.raises(
        ValueError, match=r"^soft_accuracy: y_true must hold integer class labels in \[0, 3\)"
    ):
        sg.soft_accuracy([0, 3, 1], np.ones((3, 3)) / 3)
    with pytest.raises(ValueError, match=r"^soft_f1: scores must be finite"):
        sg.soft_f1([0, 1, 1], np.array([0.1, np.nan, 0.2]))
    with pytest.raises(TypeError, match=r"^soft_f1: scores must"):
        sg.soft_f1([0, 1, 1], np.ones(3, complex))
    with pytest.raises(ValueError, match=r"^soft_balanced_accuracy: scores must have shape"):
        sg.soft_balanced_accuracy([], np.zeros(0))
    # no positives at all: F1 is 0, its gradient finite
    _, pullback = sg.vjp(sg.soft_f1, [0, 0, 0], np.zeros(3), amplifier=1e3)
    assert np.all(np.isfinite(pullback(1.0).scores))
