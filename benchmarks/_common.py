"""Helpers shared by the benchmark scripts: data, timing, and the closing table."""

import gc
import os
import platform
import statistics
import threading
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

N_FEATURES = 8


def make_series(n_rows, n_features=N_FEATURES, seed=0):
    """A float32 series: a few slow sines plus noise, built without float64 copies."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features), dtype=np.float32)
    periods = np.linspace(50, 400, n_features, dtype=np.float32)
    time_axis = np.arange(n_rows, dtype=np.float32)[:, None]
    X += np.sin(time_axis * (2 * np.pi / periods)).astype(np.float32, copy=False)
    return X


def materialised_windows(X, window):
    """Every window of X as a contiguous float32 array (batch, window, features).

    Built with NumPy directly rather than with the package, so that the bare
    side does not share code with what it is compared with.
    """
    view = sliding_window_view(X, window, axis=0).transpose(0, 2, 1)
    return np.ascontiguousarray(view, dtype=np.float32)


def timed(function):
    """Seconds ``function()`` takes, and its result."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def interleaved(functions, repeats):
    """Time several callables in turn; return one list of seconds per callable.

    The order is reversed every other repetition, so a slow drift of the
    machine's load penalises no side.
    """
    times = [[] for _ in functions]
    order = list(range(len(functions)))
    for repeat in range(repeats):
        for index in order if repeat % 2 == 0 else reversed(order):
            gc.collect()
            times[index].append(timed(functions[index])[0])
    return times


def paired_ratio(numerators, denominators):
    """Median of the per-repetition ratios, and their min and max."""
    ratios = [n / d for n, d in zip(numerators, denominators, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


def versions():
    import jax
    import keras
    import sklearn

    import sklearn_lstm_reshape

    return (
        f"sklearn_lstm_reshape {sklearn_lstm_reshape.__version__}, "
        f"keras {keras.__version__} ({keras.backend.backend()}), jax {jax.__version__}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )


def print_summary(rows):
    """Print the closing table; rows are (name, value, op, goal, format), op None for
    a figure with no goal."""
    header = ("benchmark", "measured", "goal", "result")
    table = [header]
    for name, value, op, goal, fmt in rows:
        if op is None:
            table.append((name, format(value, fmt), "-", "info"))
            continue
        passed = value >= goal if op == ">=" else value <= goal
        table.append((name, format(value, fmt), f"{op} {goal:g}", "PASS" if passed else "FAIL"))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    line = "-+-".join("-" * width for width in widths)
    print("\nSummary")
    print(line)
    for index, row in enumerate(table):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print(line)
    print(line)


# -- peak resident memory of one call -------------------------------------------


def rss_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_high_water_mark():
    """Reset VmHWM to the current RSS; False when the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def high_water_mark_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM missing from /proc/self/status")


class RssSampler(threading.Thread):
    """Highest RSS seen while running, sampled every ``interval`` seconds."""

    def __init__(self, interval=0.002):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = rss_bytes()
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_bytes())
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, rss_bytes())


def peak_extra(function):
    """Run ``function()``; return (peak RSS - RSS before, exact?, seconds, result)."""
    gc.collect()
    baseline = rss_bytes()
    exact = reset_high_water_mark()
    sampler = RssSampler()
    sampler.start()
    seconds, result = timed(function)
    sampler.stop()
    peak = max(sampler.peak, high_water_mark_bytes() if exact else 0)
    return peak - baseline, exact, seconds, result
