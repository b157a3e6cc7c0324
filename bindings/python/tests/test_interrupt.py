"""Ctrl-C (SIGINT) during a long fit returns control promptly, as
KeyboardInterrupt; verbose=True prints one line per iteration."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import wlra

# A fit that runs for well over 30 s (about 650 iterations in 30 s on a
# loaded 2-core machine), each outer iteration a few tens of milliseconds.
LONG_FIT = """
import sys, time
import numpy as np, wlra
rng = np.random.default_rng(0)
M = rng.standard_normal((800, 600))
W = rng.uniform(0.1, 1.0, M.shape)
SETUP
print("fitting", flush=True)
start = time.monotonic()
try:
    FIT
    print(f"finished after {time.monotonic() - start:.1f} s", flush=True)
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - start:.1f} s", flush=True)
"""


OPTIONS = 'max_iterations=10**7, tolerance=0.0, method="alternating", solver="exact", threads=1'
# (setup, fit): the estimator is made (importing sklearn) before "fitting".
FITS = {
    "wlra.fit": ("pass", f"wlra.fit(M, W, rank=16, {OPTIONS})"),
    "wlra.WLRA": (f"model = wlra.WLRA(16, {OPTIONS})", "model.fit(M, W=W)"),
}


@pytest.mark.parametrize("call", list(FITS))
def test_ctrl_c_during_a_long_fit_returns_control_within_a_second(call):
    setup, fit = FITS[call]
    script = LONG_FIT.replace("SETUP", setup).replace("FIT", fit)
    # The child starts with SIGINT's default action whatever the test runner
    # inherited (a shell's background job ignores SIGINT, and so would the
    # child, which then never sees the Ctrl-C this test sends).
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert child.stdout.readline() == "fitting\n"
        time.sleep(3.0)
        assert child.poll() is None, "the fit ended before the signal"
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline()
        returned = time.monotonic() - sent
        child.wait(timeout=30)
    finally:
        child.kill()
    print(f"\nCtrl-C during {call}: {line.strip()}; control back {returned:.3f} s after SIGINT")
    assert line.startswith("interrupted after"), line
    assert returned < 1.0


def test_verbose_prints_one_line_per_iteration(capsys):
    M = np.outer(np.arange(1.0, 6.0), np.arange(1.0, 4.0)) + np.eye(5, 3)
    fit = wlra.fit(M, rank=1, max_iterations=4, tolerance=0.0, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == fit.iterations == 4
    assert lines[0].startswith("wlra: iteration 1: objective ")
    assert float(lines[-1].rsplit(" ", 1)[1]) == fit.objective or abs(float(lines[-1].rsplit(" ", 1)[1]) - fit.objective) <= 1e-9 * fit.objective


def test_progress_still_cancels_and_an_own_sigint_handler_is_left_alone():
    M = np.outer(np.arange(1.0, 6.0), np.arange(1.0, 4.0)) + np.eye(5, 3)
    mine = lambda *_: None  # noqa: E731
    previous = signal.signal(signal.SIGINT, mine)
    try:
        seen = []
        try:
            wlra.fit(M, rank=1, max_iterations=50, tolerance=0.0,
                     progress=lambda i, f: seen.append(signal.getsignal(signal.SIGINT)) or i == 2)
        except wlra.CancelledError as e:
            assert e.result.iterations == 2
        assert seen and all(h is mine for h in seen)
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)
    assert signal.getsignal(signal.SIGINT) is previous
