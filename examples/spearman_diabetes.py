"""A linear ranker trained with softgrad.spearman_loss on scikit-learn's diabetes data.

The target (disease progression one year on) is only ranked: the model ``X @ w`` is trained to put
the patients in the right order, by plain gradient descent on the soft Spearman loss
``1 - corr(soft_rank(X @ w), rank(y))``, its gradient taken with :func:`softgrad.vjp` (no dense
Jacobian: the pullback is O(n) from the PAV blocks of the forward). ``load_diabetes`` ships with
scikit-learn (no download). Run it:

    python examples/spearman_diabetes.py

It prints the held-out Spearman correlation as training goes; tests/test_sort_example.py runs it.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

import softgrad as sg


def train(steps: int = 60, lr: float = 300.0, strength: float = 0.01, seed: int = 0) -> list[float]:
    """Trains from random weights; returns the held-out Spearman correlation before each step and
    after the last.

    The strength is relative to the gaps between predictions: here (standardised features,
    weights of order 1) 0.01 keeps the ranks soft only between near neighbours. A strength much
    larger than the spread pools each slice into one block, where the soft rank is affine in the
    prediction and the loss becomes ``1 -`` Pearson's correlation with the target's ranks."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    rng = np.random.default_rng(seed)
    test = rng.permutation(len(y)) < 142  # 300 patients to train on, 142 held out
    Xtr, ytr, Xte, yte = X[~test], y[~test], X[test], y[test]
    w = rng.standard_normal(X.shape[1])
    held_out = []
    for _ in range(steps):
        held_out.append(scipy.stats.spearmanr(Xte @ w, yte).statistic)
        _, pullback = sg.vjp(sg.spearman_loss, Xtr @ w, ytr, strength=strength)
        w -= lr * (Xtr.T @ pullback(1.0).pred) / len(ytr)  # chain rule through X @ w
    held_out.append(scipy.stats.spearmanr(Xte @ w, yte).statistic)
    return held_out


if __name__ == "__main__":
    rho = train()
    for step in (0, 5, 10, 20, 40, len(rho) - 1):
        print(f"step {step:3d}: held-out Spearman correlation {rho[step]:+.3f}")
