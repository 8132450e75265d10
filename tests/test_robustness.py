"""Robustness of the binding mechanisms (issue 5, section 6), one regression test per defect.

Hazardous scenarios (fork, thread counts, huge allocations, shutdown, signals) run in a fresh
interpreter in its own session, with a timeout: a hang or a crash fails the test instead of taking
pytest down. The rest is table-driven over every binding of ``softgrad._core.logsumexp``: a binding
added without a row here fails :func:`test_every_binding_has_a_case`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

import softgrad
from softgrad._core import cross_entropy as X
from softgrad._core import hutchinson as HU
from softgrad._core import lanczos as LZ
from softgrad._core import logsumexp as L
from softgrad._core import poly as PO
from softgrad._core import soft_dtw as D
from softgrad._core import soft_maxplus as M
from softgrad._core import steihaug as ST

# ---------------------------------------------------------------------------------------------
# running a scenario in its own interpreter


@dataclass(repr=False)
class Run:
    returncode: int
    out: str
    err: str

    def __repr__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


# Python installs its SIGINT handler only if SIGINT is not ignored when it starts.
SIGINT_HANDLED = "import signal as _s\n_s.signal(_s.SIGINT, _s.default_int_handler)\n"


def run_script(code: str, timeout: float, env: dict[str, str] | None = None, setup: str = "") -> Run:
    """Runs ``code`` in a fresh interpreter (own session); past ``timeout`` s the whole process group is
    killed and the test fails. ``setup`` runs first (e.g. resource limits). Ctrl-C raises
    ``KeyboardInterrupt`` in the child whatever the disposition it inherits (a job started in the
    background by a non-interactive shell inherits SIGINT ignored)."""
    script = SIGINT_HANDLED + textwrap.dedent(setup) + textwrap.dedent(code)
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "RUST_BACKTRACE": "0", **(env or {})},
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"timed out after {timeout} s (hang)\n{Run(-1, out, err)}")
    return Run(proc.returncode, out, err)


# ---------------------------------------------------------------------------------------------
# fork


FORK_CHILD_CALL = """
import os, time, numpy as np, softgrad
x = np.random.default_rng(0).standard_normal((64, 4096))
ref = softgrad.softmax(x, axis=1, n_threads=2)        # multithreaded: pools exist in the parent
softgrad.logsumexp(x, axis=1)                          # default threads too
big = np.ones(1 << 21)
softgrad.softmax(big, n_threads=2)                     # a long call: the worker thread exists too
"""


def test_a_forked_child_can_call_softgrad() -> None:
    r = run_script(
        FORK_CHILD_CALL
        + """
pid = os.fork()
if pid == 0:
    ok = np.array_equal(softgrad.softmax(x, axis=1, n_threads=2), ref)
    softgrad.logsumexp(x, axis=1)
    softgrad.softmax(big, n_threads=2)
    os._exit(0 if ok else 1)
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        print("CHILD", os.waitstatus_to_exitcode(status))
        break
    time.sleep(0.05)
else:
    os.kill(pid, 9)
    print("CHILD HANGS")
""",
        timeout=60,
    )
    assert "CHILD 0" in r.out, r


def test_a_forked_child_can_make_a_long_call() -> None:
    # Long calls of the main thread run on a persistent worker thread, which a child does not
    # inherit: the child must start its own. (Single-threaded, so rayon's pools play no part.)
    r = run_script(
        """
import os, time, numpy as np, softgrad
big = np.random.default_rng(0).standard_normal(1 << 21)
ref = softgrad.softmax(big, n_threads=1)
pid = os.fork()
if pid == 0:
    ok = np.array_equal(softgrad.softmax(big, n_threads=1), ref)
    os._exit(0 if ok else 1)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        print("CHILD", os.waitstatus_to_exitcode(status))
        break
    time.sleep(0.05)
else:
    os.kill(pid, 9)
    print("CHILD HANGS")
print("PARENT", np.array_equal(softgrad.softmax(big, n_threads=1), ref))
""",
        timeout=60,
    )
    assert "CHILD 0" in r.out and "PARENT True" in r.out, r


def test_a_multiprocessing_fork_pool_can_call_softgrad() -> None:
    r = run_script(
        FORK_CHILD_CALL
        + """
import multiprocessing as mp

def work(seed):
    y = np.random.default_rng(seed).standard_normal((64, 4096))
    return float(softgrad.logsumexp(y, n_threads=2))

with mp.get_context("fork").Pool(2) as pool:
    try:
        print("RESULTS", pool.map_async(work, range(4)).get(timeout=10))
    except mp.TimeoutError:
        print("CHILD HANGS")
        pool.terminate()
""",
        timeout=60,
    )
    assert "RESULTS" in r.out, r


# ---------------------------------------------------------------------------------------------
# thread counts


def test_many_distinct_thread_counts_do_not_accumulate_threads() -> None:
    r = run_script(
        """
import os, time, numpy as np, softgrad
x = np.random.default_rng(0).standard_normal((64, 4096))
for n in range(2, 41):
    softgrad.softmax(x, axis=1, n_threads=n)
for _ in range(40):               # evicted pools stop their threads asynchronously
    alive = len(os.listdir("/proc/self/task"))
    if alive < 200:
        break
    time.sleep(0.05)
print("THREADS", alive)
""",
        timeout=120,
    )
    assert "THREADS" in r.out, r
    assert int(r.out.split("THREADS")[1]) < 200, r  # a few cached pools, not one per count (~800)


def test_absurd_thread_counts_are_refused_quickly() -> None:
    # Today's defect: n_threads=10**9 spent ~45 s spawning threads before failing.
    r = run_script(
        """
import time, numpy as np, softgrad
x = np.ones(1000)
calls = {
    "softmax": lambda bad: softgrad.softmax(x, n_threads=bad),
    "logsumexp": lambda bad: softgrad.logsumexp(x, n_threads=bad),
    "set_num_threads": softgrad.set_num_threads,
}
t0 = time.monotonic()
for bad in (10**9, 10**30, -1, 0, True, False, 2.0):
    for name, call in calls.items():
        if bad == 0 and name == "set_num_threads":
            continue                               # 0 restores the default
        try:
            call(bad)
        except (ValueError, TypeError) as e:
            assert str(e).startswith(name), e
        else:
            raise AssertionError(f"{name} accepted {bad!r}")
print("OK", time.monotonic() - t0)
""",
        timeout=60,
    )
    assert r.returncode == 0 and "OK" in r.out, r
    assert float(r.out.split("OK")[1]) < 5.0, r


def test_thread_count_arguments_name_the_function_and_the_argument() -> None:
    x = np.ones(10)
    with pytest.raises(TypeError, match=r"^softmax: n_threads must be an int"):
        softgrad.softmax(x, n_threads=True)
    with pytest.raises(ValueError, match=r"softmax: n_threads must be .*1000000000"):
        softgrad.softmax(x, n_threads=10**9)
    with pytest.raises(ValueError, match=r"^logsumexp: n_threads must be in 1\.\.="):
        L.logsumexp(x, None, (1, 10, 1), 1.0, False, n_threads=10**9)
    with pytest.raises(TypeError, match=r"^log_softmax: n_threads must be an int, got True"):
        L.softmax(x, (1, 10, 1), 1.0, True, n_threads=True)
    with pytest.raises(ValueError, match=r"^set_num_threads: n must be in 0\.\.="):
        softgrad.set_num_threads(10**9)
    with pytest.raises(TypeError, match=r"^set_num_threads: n must be an int"):
        softgrad.set_num_threads(False)
    default = softgrad.get_num_threads()
    try:
        softgrad.set_num_threads(3)
        assert softgrad.get_num_threads() == 3
        softgrad.set_num_threads(np.int64(2))  # any integer type
        assert softgrad.get_num_threads() == 2
        softgrad.set_num_threads(0)
        assert softgrad.get_num_threads() == default
        softgrad.set_num_threads(3)
        softgrad.set_num_threads(None)
        assert softgrad.get_num_threads() == default
    finally:
        softgrad.set_num_threads(None)


def test_a_huge_rayon_num_threads_never_panics() -> None:
    r = run_script(
        """
import numpy as np, softgrad
for call in (softgrad.get_num_threads, lambda: softgrad.softmax(np.ones((64, 4096)), axis=1)):
    try:
        call()
        print("OK")
    except softgrad.SoftgradError as e:
        print("SOFTGRAD-ERROR", e)
""",
        timeout=10,  # today: rayon's global pool spends minutes spawning threads
        env={"RAYON_NUM_THREADS": "100000000"},
    )
    assert r.returncode == 0 and r.out.count("OK") + r.out.count("SOFTGRAD-ERROR") == 2, r
    assert "PanicException" not in r.out + r.err, r


# ---------------------------------------------------------------------------------------------
# allocation failure, shutdown


def test_a_failed_output_allocation_is_a_memory_error() -> None:
    # 2**33 float32 outputs = 32 GiB; the address-space limit makes the failure certain on any host.
    r = run_script(
        """
import numpy as np, softgrad
for call in (lambda: softgrad.logsumexp(np.empty((2**33, 0), np.float32), axis=1),
             lambda: softgrad.logsumexp(np.empty((0, 2**33), np.float32), axis=0)):
    try:
        call()
        print("NO ERROR")
    except MemoryError as e:
        print("MEMORY-ERROR", e)
""",
        setup="""
import resource
resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
""",
        timeout=60,
    )
    assert r.out.count("MEMORY-ERROR logsumexp: could not allocate 34359738368 bytes") == 2, r
    assert "PanicException" not in r.out + r.err, r


def test_a_call_from_del_at_interpreter_shutdown_works() -> None:
    # Reproduced before the fix: PanicException "Failed to access NumPy array API capsule" (the
    # capsule was loaded lazily, and imports fail during shutdown).
    r = run_script(
        """
import sys, numpy as np, softgrad

class Finaliser:
    def __del__(self):
        try:
            y = softgrad.softmax(np.ones(300_000), n_threads=2)
            s = softgrad.logsumexp(np.zeros(4), return_sign=True)
            big = softgrad.softmax(np.ones(3_000_000))  # long enough to run on a worker thread
            sys.stdout.write(f"DEL-OK {float(y[0]) * 300_000:.6f} {float(s[0]):.6f}\\n")
            sys.stdout.write(f"DEL-BIG-OK {float(big[-1]) * 3_000_000:.6f}\\n")
        except BaseException as e:
            sys.stdout.write(f"DEL-ERR {type(e).__module__}.{type(e).__name__}: {e}\\n")

keep = Finaliser()   # a module global: finalised during interpreter shutdown
""",
        timeout=60,
    )
    assert "DEL-OK 1.000000 1.386294" in r.out, r
    assert "DEL-BIG-OK 1.000000" in r.out, r
    assert "Panic" not in r.out + r.err, r


def test_a_panic_anywhere_in_a_binding_is_an_internal_error() -> None:
    assert threading.current_thread() is threading.main_thread()  # so "worker" takes the hop path
    for place in ("body", "core", "worker"):
        with pytest.raises(softgrad.InternalError, match=r"^_panic: internal error \(please report\): test"):
            softgrad._core._panic(place)
    assert issubclass(softgrad.InternalError, softgrad.SoftgradError)


# ---------------------------------------------------------------------------------------------
# Ctrl-C

INTERRUPT_LOOP = """
import os, sys, time, numpy as np, softgrad
x = np.random.default_rng(0).standard_normal(1 << 23)
x0 = x.copy()
softgrad.softmax(x)
print("READY", flush=True)
arm()
t0 = time.monotonic()
try:
    while time.monotonic() - t0 < 30:
        softgrad.softmax(x)
    print("NOT INTERRUPTED")
except KeyboardInterrupt:
    print("INTERRUPTED", time.monotonic() - t0, "UNCHANGED" if np.array_equal(x, x0) else "CHANGED")
"""


def test_ctrl_c_interrupts_a_loop_of_long_calls() -> None:
    r = run_script(
        """
import threading, _thread

def arm():
    threading.Timer(0.3, _thread.interrupt_main).start()
"""
        + INTERRUPT_LOOP,
        timeout=60,
    )
    assert "INTERRUPTED" in r.out and "UNCHANGED" in r.out, r
    assert float(r.out.split("INTERRUPTED")[1].split()[0]) < 3.3, r


def test_sigint_from_outside_interrupts_a_loop_of_long_calls() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGINT_HANDLED + "def arm(): pass\n" + INTERRUPT_LOOP],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        threading.Event().wait(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("SIGINT did not stop the loop")
    assert "INTERRUPTED" in out and "UNCHANGED" in out, out + err
    assert float(out.split("INTERRUPTED")[1].split()[0]) < 3.0, out


def test_ctrl_c_stops_a_single_long_call_early() -> None:
    r = run_script(
        """
import threading, time, _thread, numpy as np, softgrad
x = np.random.default_rng(0).standard_normal(1 << 25)
x0, out = x.copy(), np.empty_like(x)
softgrad.softmax(x, n_threads=1, out=out)  # first touch of `out`
t = time.monotonic(); softgrad.softmax(x, n_threads=1, out=out); whole = time.monotonic() - t
threading.Timer(whole / 4, _thread.interrupt_main).start()
t = time.monotonic()
try:
    softgrad.softmax(x, n_threads=1, out=out)
    print("NOT INTERRUPTED")
except KeyboardInterrupt:
    late = time.monotonic() - t - whole / 4
    print("INTERRUPTED", late / whole, "UNCHANGED" if np.array_equal(x, x0) else "CHANGED")
""",
        timeout=120,
    )
    assert "INTERRUPTED" in r.out and "UNCHANGED" in r.out, r
    assert float(r.out.split("INTERRUPTED")[1].split()[0]) < 0.3, r  # stopped well before the end


# ---------------------------------------------------------------------------------------------
# every binding: unaligned / read-only arrays, dtypes, errors, threads


@dataclass
class Case:
    """One call of a binding: keyword arguments, which of them are inputs and which outputs."""

    binding: str
    func: str  # the name its errors carry
    kwargs: dict[str, Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...] = ()
    float64_only: tuple[str, ...] = field(default=())  # residuals and cotangents
    core_func: str = ""  # the name the core's errors carry (a regex), if not `func`
    module: Any = L  # the `_core` submodule of the binding
    scale: str | None = "temperature"  # the positive scalar parameter, if any
    bad: tuple[
        tuple[dict[str, Any], str], ...
    ] = ()  # parameter errors (kwargs, message regex), if not temperature

    def call(self, **replace: Any) -> Any:
        return getattr(self.module, self.binding)(**{**self.kwargs, **replace})


def cases(dtype: type[np.floating[Any]]) -> list[Case]:
    rng = np.random.default_rng(7)
    outer, n, inner = 3, 700, 2  # inner > 1: the strided kernels
    layout = (outer, n, inner)
    x = rng.standard_normal(outer * n * inner).astype(dtype)
    b = rng.uniform(-0.2, 1.0, x.size).astype(dtype)
    g = rng.standard_normal(x.size).astype(dtype)
    ct = rng.standard_normal(outer * inner)
    t = 0.7
    res = [
        Case(
            "logsumexp",
            "logsumexp",
            dict(a=x, b=b, layout=layout, temperature=t, return_sign=True, lse=np.zeros(outer * inner)),
            ("a", "b"),
            ("lse",),
            ("lse",),
        ),
        Case(
            "softmax",
            "softmax",
            dict(
                x=x,
                layout=layout,
                temperature=t,
                log=False,
                out=np.zeros(x.size, dtype),
                lse=np.zeros(outer * inner),
            ),
            ("x",),
            ("out", "lse"),
            ("lse",),
        ),
        Case(
            "softmax",
            "log_softmax",
            dict(x=x, layout=layout, temperature=t, log=True, out=np.zeros(x.size, dtype)),
            ("x",),
            ("out",),
        ),
    ]
    if hasattr(L, "softmax_vjp"):  # the general pullbacks, once bound (contract signatures)
        y = L.softmax(x, layout, t, False)
        res.append(
            Case(
                "softmax_vjp",
                "softmax_vjp",
                dict(out=y, g=g, layout=layout, temperature=t, log=False),
                ("out", "g"),
                core_func="softmax(_vjp)?",
            )
        )
    if hasattr(L, "logsumexp_vjp"):
        lse = np.zeros(outer * inner)
        _, sign = L.logsumexp(x, b, layout, t, True, lse=lse)
        res.append(
            Case(
                "logsumexp_vjp",
                "logsumexp_vjp",
                dict(a=x, b=b, lse=lse, sign=sign, ct=ct, layout=layout, temperature=t),
                ("a", "b", "lse", "sign", "ct"),
                float64_only=("lse", "ct"),
            )
        )
    if hasattr(L, "logsumexp_weights"):  # reverse mode over contiguous rows (test_logsumexp_fused.py)
        rl = (outer * inner, n, 1)
        _, _, p, h = L.logsumexp_weights(x, rl, t, False)
        res.append(
            Case(
                "logsumexp_weights",
                "logsumexp",
                dict(a=x, layout=rl, temperature=t, return_sign=True),
                ("a",),
            )
        )
        res.append(
            Case(
                "logsumexp_vjp_weights",
                "logsumexp_vjp",
                dict(p=p, h=h, ct=ct, layout=rl, temperature=t),
                ("p", "h", "ct"),
                float64_only=("h", "ct"),
            )
        )
    xent = dict(logits=x, sample_weight=np.abs(ct).astype(dtype), layout=layout, temperature=t)
    xent.update(label_smoothing=0.1, grad_scale=0.5, grad=True, losses=True)
    cls = rng.integers(0, n, outer * inner)
    res.append(
        Case(
            "softmax_cross_entropy",
            "softmax_cross_entropy",
            dict(xent, labels=np.abs(g), classes=None),
            ("logits", "labels", "sample_weight"),
            module=X,
        )
    )
    res.append(
        Case(
            "softmax_cross_entropy",
            "softmax_cross_entropy",
            dict(xent, labels=None, classes=cls),
            ("logits", "sample_weight"),
            module=X,
        )
    )
    lens = np.full(4, 6, np.int64)
    sx, sy = x[:24].copy(), g[:24].copy()
    res.append(
        Case(
            "forward",
            "soft_dtw",
            dict(x=sx, y=sy, n=lens, m=lens, d=1, gamma=t),
            ("x", "y"),
            module=D,
            scale="gamma",
        )
    )
    _, kept = D.forward(sx, sy, lens, lens, 1, t, keep=True)
    res.append(Case("vjp", "soft_dtw", dict(res=kept, g=sx[:4].copy()), ("g",), module=D, scale=None))
    ma, mb, idx = x[:12].copy(), g[:20].copy(), np.zeros(1, np.int64)
    mp = dict(a=ma, b=mb, a_index=idx, b_index=idx, m=3, k=4, n=5, temperature=t, min=False)
    res.append(Case("forward", "soft_maxplus_matmul", mp, ("a", "b"), module=M))
    _, mkept = M.forward(ma, mb, idx, idx, 3, 4, 5, t, False, keep=True)
    mg = g[:15].copy()
    res.append(Case("vjp", "soft_maxplus_matmul", dict(res=mkept, g=mg), ("g",), module=M, scale=None))
    mt = dict(res=mkept, da=ma.copy(), db=mb.copy(), dt=0.5)
    res.append(Case("jvp", "soft_maxplus_matmul", mt, ("da", "db"), module=M, scale=None))
    res += krylov_cases(rng)
    return res


def krylov_cases(rng: np.random.Generator) -> list[Case]:
    """The `softgrad._core` Krylov bindings (operators are callables; vectors float64)."""
    n = 40
    a = rng.standard_normal((n, n))
    a = a @ a.T / n + np.eye(n)
    mv = a.__matmul__
    g = rng.standard_normal(n)
    inv = 1 / np.diag(a)
    return [
        Case(
            "lanczos",
            "lanczos",
            dict(matvec=mv, n=n, k=2, which="both", maxiter=None, tol=1e-8, seed=0),
            (),
            module=LZ,
            bad=(
                (dict(k=0), r"^lanczos: k must be in 1\.\.=n"),
                (dict(tol=-1.0), r"^lanczos: tol must be in"),
            ),
        ),
        Case(
            "hutchinson",
            "hutchinson",
            dict(
                matvec=mv,
                matmat=mv,
                n=n,
                n_samples=5,
                seed=0,
                distribution="rademacher",
                batch=2,
                trace=True,
                diagonal=True,
                method="hutchinson",
            ),
            (),
            module=HU,
            bad=((dict(n_samples=0), r"^hutchinson: n_samples must be >= 1"),),
        ),
        Case(
            "cg_steihaug",
            "cg_steihaug",
            dict(matvec=mv, g=g, radius=0.5, m_inv=None, rtol=1e-6, maxiter=n),
            ("g",),
            module=ST,
            bad=((dict(radius=0.0), r"^cg_steihaug: radius must be finite and > 0"),),
        ),
        Case(
            "poly_bounds",
            "polynomial",
            dict(matvec=mv, n=n, inv_diag=inv, seed=0),
            ("inv_diag",),
            module=PO,
            bad=((dict(n=n + 1), r"^polynomial: inv_diag has length"),),
        ),
        Case(
            "poly_apply",
            "polynomial",
            dict(matvec=mv, r=g, kind="neumann", degree=3, lo=0.5, hi=1.5, inv_diag=inv),
            ("r", "inv_diag"),
            float64_only=("inv_diag",),
            module=PO,
            bad=((dict(lo=2.0), r"^polynomial: bounds must satisfy"),),
        ),
    ]


DTYPES: list[type[np.floating[Any]]] = [np.float64, np.float32]
ALL = [(d, c) for d in DTYPES for c in cases(d)]
CASES = [pytest.param(c, id=f"{c.func}-{np.dtype(d).name}") for d, c in ALL]
OUT_CASES = [pytest.param(c, id=f"{c.func}-{np.dtype(d).name}") for d, c in ALL if c.outputs]


def flat(result: Any, case: Case, kwargs: dict[str, Any]) -> list[Any]:
    """Everything a call produced: its return value(s) and its output arguments' contents."""
    parts = list(result) if isinstance(result, tuple) else [result]
    return [None if p is None else np.asarray(p).copy() for p in parts] + [
        np.asarray(kwargs[o]).copy() for o in case.outputs
    ]


def fresh(case: Case) -> dict[str, Any]:
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.kwargs.items()}


def assert_same(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        if b is None:
            assert a is None
        else:
            np.testing.assert_array_equal(a, b)


def unaligned(a: NDArray[Any]) -> NDArray[Any]:
    """A C-contiguous copy of ``a`` at an odd address (as ``np.ndarray(buffer=bytearray(81), offset=1)``)."""
    buf = bytearray(a.nbytes + 1)
    u: NDArray[Any] = np.ndarray(a.shape, a.dtype, buffer=buf, offset=1)
    u[...] = a
    assert not u.flags.aligned and u.flags.c_contiguous
    return u


def read_only(a: NDArray[Any]) -> NDArray[Any]:
    r: NDArray[Any] = a.copy()
    r.flags.writeable = False
    return r


def test_every_binding_has_a_case() -> None:
    for m in (L, X, D, M, LZ, HU, ST, PO):
        bound = {
            name
            for name in dir(m)
            if not name.startswith("_")
            and callable(getattr(m, name))
            and not isinstance(getattr(m, name), type)
        }
        assert bound == {c.binding for c in cases(np.float64) if c.module is m}


@pytest.mark.parametrize("case", CASES)
def test_unaligned_and_read_only_inputs_give_the_aligned_result(case: Case) -> None:
    kw = fresh(case)
    want = flat(case.call(**kw), case, kw)
    for make in (unaligned, read_only):
        for name in case.inputs:
            kw = fresh(case)
            kw[name] = make(kw[name])
            before = kw[name].copy()
            assert_same(flat(case.call(**kw), case, kw), want)
            np.testing.assert_array_equal(kw[name], before)  # inputs are never written
        kw = fresh(case)
        kw.update({name: make(kw[name]) for name in case.inputs})
        assert_same(flat(case.call(**kw), case, kw), want)


@pytest.mark.parametrize("case", OUT_CASES)
def test_unaligned_outputs_receive_the_result(case: Case) -> None:
    kw = fresh(case)
    want = flat(case.call(**kw), case, kw)
    kw = fresh(case)
    kw.update({o: unaligned(kw[o]) for o in case.outputs})
    res = case.call(**kw)
    assert_same(flat(res, case, kw), want)
    if "out" in case.outputs:
        assert res is kw["out"]  # the caller's array, not the aligned temporary


@pytest.mark.parametrize("case", OUT_CASES)
def test_bad_outputs_are_refused_naming_the_argument(case: Case) -> None:
    for o in case.outputs:
        a = case.kwargs[o]
        with pytest.raises(ValueError, match=rf"^{case.func}: {o} is read-only"):
            case.call(**{o: read_only(a)})
        with pytest.raises(ValueError, match=rf"^{case.func}: {o} has {a.size + 1} elements, expected"):
            case.call(**{o: np.zeros(a.size + 1, a.dtype)})
        with pytest.raises(TypeError, match=rf"^{case.func}: {o} must be C-contiguous"):
            case.call(**{o: np.zeros(2 * a.size, a.dtype)[::2]})
    if "out" in case.outputs:
        x = fresh(case)[case.inputs[0]]
        with pytest.raises(ValueError, match=rf"^{case.func}: out is in use: it overlaps another array"):
            case.call(**{case.inputs[0]: x, "out": x})


@pytest.mark.parametrize("case", CASES)
def test_a_wrong_dtype_is_a_type_error_naming_function_and_argument(case: Case) -> None:
    for name in case.inputs + case.outputs:
        a = case.kwargs[name]
        others = [np.int64, np.float16] + ([np.float32] if name in case.float64_only else [])
        if name not in case.float64_only:
            others.append(np.float32 if a.dtype == np.float64 else np.float64)
        for dt in others:
            if name == case.inputs[0] and dt in (np.float32, np.float64):
                continue  # the first array sets the dtype of the call
            with pytest.raises(TypeError, match=rf"^{case.func}: {name} must be a .*ndarray, got"):
                case.call(**{name: a.astype(dt)})
        with pytest.raises(TypeError, match=rf"^{case.func}: {name} must be a .*ndarray, got .*list"):
            case.call(**{name: a.tolist()})
        if a.size > 1:
            with pytest.raises(TypeError, match=rf"^{case.func}: {name} must be C-contiguous"):
                case.call(**{name: np.repeat(a, 2)[::2]})


@pytest.mark.parametrize("case", CASES)
def test_core_parameter_errors_are_value_errors(case: Case) -> None:
    core_func = case.core_func or case.func
    if case.bad:
        for kwargs, match in case.bad:
            with pytest.raises(ValueError, match=match):
                case.call(**kwargs)
        return
    for t in (0.0, -1.0, float("nan"), float("inf")):
        if case.scale is not None:
            with pytest.raises(ValueError, match=rf"^{core_func}: {case.scale} must be finite and > 0"):
                case.call(**{case.scale: t})
    if "layout" in case.kwargs:  # lengths that disagree with the layout
        outer, n, inner = case.kwargs["layout"]
        with pytest.raises(ValueError, match=rf"^{core_func}: \w+ has .*length"):
            case.call(layout=(outer, n + 1, inner))
    elif "n" in case.kwargs:
        with pytest.raises(ValueError, match=rf"^{core_func}: "):
            case.call(n=case.kwargs["n"] + 1)


@pytest.mark.parametrize("case", CASES)
def test_thread_counts_are_checked_by_every_binding(case: Case) -> None:
    with pytest.raises(TypeError, match=rf"^{case.func}: n_threads must be an int, got True"):
        case.call(n_threads=True)
    with pytest.raises(ValueError, match=rf"^{case.func}: n_threads must be in 1\.\.="):
        case.call(n_threads=10**9)
    kw = fresh(case)
    want = flat(case.call(**kw), case, kw)
    for n in (1, 2, 3):
        kw = fresh(case)
        assert_same(flat(case.call(**kw, n_threads=n), case, kw), want)


def test_layout_must_be_a_triple() -> None:
    x = np.ones(6)
    bad: Any
    for bad in ((2, 3), (2, 3, 1, 1), (2, -3, 1), "abc", None):
        with pytest.raises(TypeError, match=r"layout must be a tuple \(outer, n, inner\)"):
            L.softmax(x, bad, 1.0, False)


def test_lse_residuals_hold_the_log_sum_exp_in_float64() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 300)).astype(np.float32)
    want = softgrad.logsumexp(x.astype(np.float64), axis=1, temperature=0.5)
    lse = np.full(5, np.nan)
    L.softmax(x.reshape(-1), (5, 300, 1), 0.5, True, lse=lse)
    # float32 exponentials summed in float64: well inside an f32 rounding of the value (3e-8 here)
    np.testing.assert_allclose(lse, want, rtol=1e-8)
    lse2 = np.full(5, np.nan)
    out, _ = L.logsumexp(x.reshape(-1), None, (5, 300, 1), 0.5, False, lse=lse2)
    np.testing.assert_allclose(lse2, want, rtol=1e-8)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, want, rtol=1e-6)


def test_public_functions_accept_unaligned_and_read_only_arrays() -> None:
    x = np.random.default_rng(1).standard_normal((4, 9))
    for make in (unaligned, read_only):
        xa = make(x)
        np.testing.assert_array_equal(softgrad.softmax(xa, axis=0), softgrad.softmax(x, axis=0))
        np.testing.assert_array_equal(softgrad.logsumexp(xa, axis=1), softgrad.logsumexp(x, axis=1))
        out = unaligned(np.zeros_like(x))
        assert softgrad.log_softmax(xa, out=out) is out
        np.testing.assert_array_equal(out, softgrad.log_softmax(x))
    out, pullback = softgrad.vjp(softgrad.softmax, x, axis=1)
    ct = unaligned(np.ones_like(x))
    np.testing.assert_array_equal(pullback(ct)[0], pullback(np.ones_like(x))[0])


# ---------------------------------------------------------------------------------------------
# concurrency


@pytest.mark.parametrize("n_threads", [1, 2])
def test_threads_calling_the_same_op_concurrently_get_the_right_results(n_threads: int) -> None:
    rng = np.random.default_rng(11)
    xs = [rng.standard_normal((64, 5000)) for _ in range(4)]
    want = [softgrad.softmax(x, axis=1, n_threads=1) for x in xs]
    got: dict[int, list[NDArray[Any]]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            got[i] = [softgrad.softmax(xs[i], axis=1, n_threads=n_threads) for _ in range(5)]
        except BaseException as e:  # reported below: a thread's exception would be lost
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    main_big = softgrad.softmax(np.tile(xs[0], (8, 1)), axis=1)  # the main thread's hop path, meanwhile
    for th in threads:
        th.join(timeout=60)
    assert not errors, errors
    for i in range(4):
        for y in got[i]:
            np.testing.assert_array_equal(y, want[i])
    np.testing.assert_array_equal(main_big, np.tile(want[0], (8, 1)))


def test_calls_from_many_threads_release_the_gil() -> None:
    # While one thread runs a long call, another thread still runs Python code.
    x = np.random.default_rng(2).standard_normal(1 << 22)
    ticks = 0
    done = threading.Event()

    def call() -> None:
        for _ in range(3):
            softgrad.softmax(x, n_threads=1)
        done.set()

    th = threading.Thread(target=call)
    th.start()
    while not done.is_set():
        ticks += 1
        done.wait(0.001)
    th.join()
    assert ticks > 3


def test_threads_sharing_one_out_get_an_error_naming_the_function_and_out() -> None:
    # Issue 6: two threads writing one ``out=`` got rust-numpy's bare "already borrowed". Each call
    # either completes (with the right values) or is refused with a message naming softmax and
    # ``out``; the refusal is certain where a call's own arguments collide (the same borrow check).
    x = np.random.default_rng(5).standard_normal((256, 4096))
    want = softgrad.softmax(x, n_threads=1)
    shared = np.empty_like(x)
    barrier = threading.Barrier(3)
    messages: list[str] = []
    failures: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        for _ in range(10):
            try:
                softgrad.softmax(x, n_threads=1, out=shared)
            except ValueError as e:
                messages.append(str(e))
            except BaseException as e:  # reported below: a thread's exception would be lost
                failures.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not failures, failures
    for m in messages:
        assert m.startswith("softmax: out is in use:") and "another thread" in m, m
    softgrad.softmax(x, n_threads=1, out=shared)
    np.testing.assert_array_equal(shared, want)
    flat = x.reshape(-1).copy()
    with pytest.raises(ValueError, match=r"^softmax: out is in use: .* a call on another thread"):
        L.softmax(flat, (256, 4096, 1), 1.0, False, None, flat)
