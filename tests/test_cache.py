"""The buffer cache (``rust/softgrad-py/src/cache.rs``, :func:`softgrad.set_buffer_cache`).

The suite runs with every result going through the cache and reused buffers NaN-poisoned (see the
session fixture in ``conftest.py``), so every oracle comparison elsewhere also checks that kernels
write their whole output. Here: reuse, limits, the settings API, ``_core.copy``, threads and fork.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
import scipy.special as sp

import softgrad as sg
from softgrad import _core
from test_robustness import run_script

MIB = 1 << 20


@pytest.fixture
def cache() -> Iterator[None]:
    """A fresh cache of the default limit for one test, the suite's settings restored after."""
    limit = sg.set_buffer_cache(0)
    sg.set_buffer_cache(512 * MIB)
    yield
    sg.set_buffer_cache(0)
    sg.set_buffer_cache(limit)


def test_a_freed_result_buffer_is_reused_for_the_next_result_of_its_size(cache: None) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 300, 1000))  # 2.4 MB each
    a = sg.softmax(x, axis=1)
    addr = a.ctypes.data
    del a
    assert sg.get_buffer_cache() == {"max_bytes": 512 * MIB, "held_bytes": x.nbytes, "buffers": 1}
    b = sg.softmax(y, axis=1)
    assert b.ctypes.data == addr  # same memory, handed out again
    assert sg.get_buffer_cache()["buffers"] == 0
    np.testing.assert_allclose(b, sp.softmax(y, axis=1), rtol=1e-14)  # and fully rewritten
    assert b.flags.writeable and b.flags.c_contiguous and b.flags.owndata is False


def test_the_limit_bounds_what_is_kept_and_zero_frees_everything(cache: None) -> None:
    xs = [np.full((MIB // 8 + k,), float(k)) for k in range(4)]  # four sizes just over 1 MiB
    outs = [sg.softmax(x) for x in xs]
    total = sum(o.nbytes for o in outs)
    while outs:
        outs.pop(0)  # freed in order: outs[0] is the oldest in the cache
    assert sg.get_buffer_cache() == {"max_bytes": 512 * MIB, "held_bytes": total, "buffers": 4}
    # a lower limit drops the oldest first
    sg.set_buffer_cache(2 * MIB + 64)
    assert sg.get_buffer_cache()["buffers"] == 2
    assert sg.get_buffer_cache()["held_bytes"] == xs[2].nbytes + xs[3].nbytes
    assert sg.set_buffer_cache(0) == 2 * MIB + 64
    assert sg.get_buffer_cache() == {"max_bytes": 0, "held_bytes": 0, "buffers": 0}
    out = sg.softmax(xs[0])
    del out
    assert sg.get_buffer_cache()["held_bytes"] == 0  # off: nothing kept


def test_a_buffer_larger_than_the_limit_is_freed_not_kept(cache: None) -> None:
    sg.set_buffer_cache(MIB)
    out = sg.softmax(np.zeros(MIB // 8 + 1))
    del out
    assert sg.get_buffer_cache()["held_bytes"] == 0


def test_views_keep_the_buffer_alive() -> None:
    x = np.arange(MIB // 4, dtype=np.float64)
    out = sg.softmax(x)
    view = out[10:20]
    want = view.copy()
    del out
    sg.softmax(x[::-1].copy())  # same size: must not get the buffer the view still uses
    np.testing.assert_array_equal(view, want)


@pytest.mark.parametrize("bad", [True, 1.5, "1", None])
def test_set_buffer_cache_refuses_non_ints(bad: object) -> None:
    with pytest.raises(TypeError, match="set_buffer_cache: max_bytes must be an int"):
        sg.set_buffer_cache(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, 2**63, 2**70])
def test_set_buffer_cache_refuses_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError, match="set_buffer_cache: max_bytes must be >= 0"):
        sg.set_buffer_cache(bad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, (1 << 16) - 1, 1 << 16, (1 << 16) + 1, 3 * (1 << 16) + 5])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_copy_is_an_independent_exact_copy(dtype: type, n: int, n_threads: int) -> None:
    x = np.random.default_rng(n).normal(size=n).astype(dtype)
    before = x.copy()
    c = _core.copy(x, n_threads=n_threads)
    assert c.dtype == x.dtype and c.shape == x.shape
    np.testing.assert_array_equal(c, x)
    assert not np.may_share_memory(c, x)
    c[...] = 0
    np.testing.assert_array_equal(x, before)


def test_copy_refuses_other_dtypes_and_layouts() -> None:
    with pytest.raises(TypeError, match="copy: x must be a float32 or float64 ndarray, got int64"):
        _core.copy(np.arange(3))
    with pytest.raises(TypeError, match="copy: x must be C-contiguous"):
        _core.copy(np.zeros(6)[::2])
    with pytest.raises(ValueError, match="copy: n_threads"):
        _core.copy(np.zeros(3), n_threads=0)


def test_threads_allocating_and_freeing_at_once_get_right_results(cache: None) -> None:
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(64, MIB // 256 + k)) for k in range(4)]  # ~1 MiB, four sizes
    wants = [sp.softmax(x, axis=1) for x in inputs]
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(30):
                j = (k + i) % 4
                out = sg.softmax(inputs[j], axis=1, n_threads=1 + i % 2)
                np.testing.assert_allclose(out, wants[j], rtol=1e-13)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_a_forked_child_uses_the_cache_it_inherited() -> None:
    r = run_script(
        """
        import os
        import numpy as np, scipy.special as sp, softgrad as sg
        x = np.random.default_rng(0).normal(size=(300, 1000))
        a = sg.softmax(x, axis=1)
        del a                                   # the parent's cache now holds a buffer
        pid = os.fork()
        if pid == 0:
            out = sg.softmax(x, axis=1)       # takes the inherited buffer
            ok = np.allclose(out, sp.softmax(x, axis=1), rtol=1e-13)
            os._exit(0 if ok and sg.get_buffer_cache()["buffers"] == 0 else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        print("ok")
        """,
        timeout=60,
    )
    assert r.returncode == 0 and r.out.strip() == "ok", r
