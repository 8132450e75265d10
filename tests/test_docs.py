"""The examples in the docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "softgrad.logsumexp",
    "softgrad.softmax",
    "softgrad.cross_entropy",
    "softgrad.sort",
    "softgrad.maxplus",
    "softgrad.soft_dtw",
    "softgrad.soft_maxplus",
    "softgrad.topk",
    "softgrad.quantile",
    "softgrad.spearman",
    "softgrad.metrics",
    "softgrad.autodiff",
    "softgrad.config",
    "softgrad._array",
    "softgrad.fd",
    "softgrad.zo",
    "softgrad.sparse_fd",
    "softgrad.hessian",
    "softgrad.precond",
    "softgrad.linalg.cg",
    "softgrad.linalg.lanczos",
    "softgrad.linalg.hutchinson",
    "softgrad.linalg.steihaug",
    "softgrad.linalg.poly",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0
    if name in ("softgrad.logsumexp", "softgrad.softmax", "softgrad.autodiff"):
        assert result.attempted >= 5, result
