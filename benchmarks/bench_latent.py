"""Speed and validity of LatentReshaper's batched search toward a target.

A forecaster ``train_forecaster(series, window=32, units=32)``, briefly
trained, and a ``LatentReshaper(edit="optimize")`` fitted on a 3-D panel of
1,000 windows of 32 rows x 8 features (each sequence is one window) ask, for
every window, for a prediction 0.5 standard deviations (of the model's
predictions on the panel) above its own on every output: 5 units of the
default ``tol=0.1``. The searches run in the autoencoder's codes
(``space="latent"``, the default) and on the windows themselves
(``space="input"``), with the default ``steps=100``, ``learning_rate=0.1``
and ``proximity=0.1``.

1. time: the wall time of ``transform`` on the 1,000 windows, after
   compilation, for each space (the goal, <= 10 s, is an absolute time on
   this machine, for the default space). The first call of each space is
   ``report`` (see 2.): it compiles the search, which is cached per shape.
2. validity and proximity: ``report(X)`` of the two spaces side by side,
   with the default ``tol`` (a window stops when it reaches its target),
   and the target gap where each search starts: the latent search starts
   from the autoencoder's reconstruction of X, not from X.
3. batching: the per-window time of the batched search on the 1,000
   windows against the same ``transform`` called on one window (a panel
   of shape (1, 32, 8)) at a time, for a few of them, as a ratio (the
   speed-up of batching), both sides with ``tol=0`` so that no window stops
   early and every window takes exactly ``steps`` steps. For reference, the
   batched search is also set against the same number of bare, jitted JAX
   Adam steps of the same loss on the same batch: how much of its time is
   the gradient computation itself.

Timed repetitions of the sides compared are interleaved, their order
alternating. The prediction cache (not the cache of compiled searches) is
emptied before every timed call, so each call runs the forecaster on its
input as a first call does.

Run from the repository root::

    python benchmarks/bench_latent.py           # full sizes, a few minutes
    python benchmarks/bench_latent.py --quick   # small sizes, smoke test
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np
from _common import (
    N_FEATURES,
    interleaved,
    make_series,
    paired_ratio,
    print_summary,
    timed,
    versions,
)

WINDOW = 32
UNITS = 32  # of the forecaster and of the autoencoder
LATENT_DIM = 8
SHIFT = 0.5  # the target: every output this many standard deviations above its prediction
STEPS = 100  # LatentReshaper's defaults
LEARNING_RATE = 0.1
PROXIMITY = 0.1
SPACES = ("latent", "input")
SEED = 0

SIZES = {
    "full": {
        "windows": 1_000,
        "forecaster_rows": 8_000,
        "forecaster_epochs": 3,
        "autoencoder_epochs": 30,
        "repeats": 2,
        "loop_windows": 30,
        "bare_steps": 20,
    },
    "quick": {
        "windows": 100,
        "forecaster_rows": 2_000,
        "forecaster_epochs": 1,
        "autoencoder_epochs": 3,
        "repeats": 1,
        "loop_windows": 5,
        "bare_steps": 10,
    },
}


# -- setup ---------------------------------------------------------------------


def setup(sizes):
    """The trained forecaster, the panel and a LatentReshaper fitted on it."""
    from sklearn_lstm_reshape import LatentReshaper
    from sklearn_lstm_reshape.models import train_forecaster

    n_windows = sizes["windows"]
    seconds, model = timed(
        lambda: train_forecaster(
            make_series(sizes["forecaster_rows"]),
            window=WINDOW,
            units=UNITS,
            epochs=sizes["forecaster_epochs"],
            random_state=SEED,
        )
    )
    print(
        f"Forecaster: train_forecaster(window={WINDOW}, units={UNITS}) on "
        f"{sizes['forecaster_rows']:,} rows, {sizes['forecaster_epochs']} epoch(s) "
        f"({seconds:.1f} s)."
    )
    # Non-overlapping windows of a series the forecaster has not seen.
    panel = make_series(n_windows * WINDOW, seed=1).reshape(n_windows, WINDOW, N_FEATURES)
    # A fixed shift rather than ``lambda p: p + SHIFT * p.std(axis=0)``: a
    # callable target sees the predictions of the windows transformed
    # together, so on one window at a time (section 3) that std would be 0.
    predictions = np.asarray(model.predict(panel, verbose=0))
    shift = (SHIFT * predictions.std(axis=0)).astype(np.float32)
    reshaper = LatentReshaper(
        model,
        latent_dim=LATENT_DIM,
        units=UNITS,
        epochs=sizes["autoencoder_epochs"],
        edit="optimize",
        target=lambda p: p + shift,
        steps=STEPS,
        learning_rate=LEARNING_RATE,
        proximity=PROXIMITY,
        random_state=SEED,
    )
    seconds, _ = timed(lambda: reshaper.fit(panel))
    print(
        f"LatentReshaper: fitted on a panel {panel.shape}, autoencoder latent_dim="
        f"{LATENT_DIM} units={UNITS}, {sizes['autoencoder_epochs']} epochs ({seconds:.1f} s); "
        f"target = prediction + {SHIFT} std on every output; steps={STEPS}, "
        f"learning_rate={LEARNING_RATE}, proximity={PROXIMITY}."
    )
    return model, panel, reshaper


def transformer(reshaper, space, X, **params):
    """A callable running ``reshaper.transform(X)`` in ``space`` from a cold
    prediction cache (the compiled searches stay cached); it keeps its last
    result as ``.result``."""
    from sklearn_lstm_reshape import _cache

    def transform():
        reshaper.set_params(space=space, **params)
        _cache.predictions.clear()
        transform.result = reshaper.transform(X)
        return transform.result

    return transform


# -- 1. and 2. time and validity of the search on 1,000 windows -------------------


def bench_search(model, panel, reshaper, repeats):
    n_windows = len(panel)
    print(
        f"\n[1] optimise {n_windows:,} windows ({WINDOW} x {N_FEATURES}) toward the target, "
        f"default tol, {repeats} timed repetition(s) per space"
    )
    reports, first = {}, {}
    for space in SPACES:
        # The warm-up is the report of section 2: it runs the same search
        # (compiling it for this shape) and then assesses its result.
        reshaper.set_params(space=space)
        first[space], reports[space] = timed(lambda: reshaper.report(panel))
    functions = [transformer(reshaper, space, panel) for space in SPACES]
    times = interleaved(functions, repeats)
    median = {space: statistics.median(t) for space, t in zip(SPACES, times, strict=True)}
    for space, function in zip(SPACES, functions, strict=True):
        # Check: the timed transforms gave the windows report() assessed.
        after = np.asarray(model.predict(function.result, verbose=0))
        np.testing.assert_allclose(after, reports[space]["predictions_after"], rtol=1e-4, atol=1e-4)
        print(
            f"    space={space:<6}: transform {median[space]:6.2f} s "
            f"({median[space] / n_windows * 1e3:.1f} ms per window); first call, "
            f"report() with compilation: {first[space]:.2f} s"
        )
    return median, reports


def add_start_gaps(model, panel, reshaper, reports):
    """The mean target gap where each search starts: X for the input space, the
    reconstruction decode(encode(X)) for the latent one."""
    from sklearn_lstm_reshape import _predict

    reconstruction = _predict.predict_windows(
        reshaper.decoder_, _predict.predict_windows(reshaper.encoder_, panel)
    )
    target = reshaper.target(np.asarray(reports["latent"]["predictions_before"]))
    predictions = np.asarray(model.predict(reconstruction, verbose=0))
    reports["latent"]["target_gap_start"] = float(np.mean(np.abs(predictions - target)))
    reports["input"]["target_gap_start"] = reports["input"]["target_gap_before"]


def print_reports(reports, n_windows):
    print(f"\n[2] report(X) on the {n_windows:,} windows, default tol, side by side")
    rows = [
        ("validity", "validity", ".3f"),
        ("validity before", "validity_before", ".3f"),
        ("target gap before", "target_gap_before", ".4f"),
        ("target gap at start", "target_gap_start", ".4f"),
        ("target gap after", "target_gap_after", ".4f"),
        ("proximity |X_new - X|", "proximity", ".4f"),
        ("plausibility after", "plausibility", ".4f"),
        ("plausibility before", "plausibility_before", ".4f"),
    ]
    print(f"    {'':<24}" + "".join(f"{'space=' + space:>14}" for space in SPACES))
    for label, key, fmt in rows:
        print(
            f"    {label:<24}"
            + "".join(f"{format(reports[space][key], fmt):>14}" for space in SPACES)
        )
    print(
        "    (the latent search starts from the reconstruction decode(encode(X)), not from X:\n"
        "    'target gap at start' is its gap, 'plausibility before' (the autoencoder's\n"
        "    reconstruction error on X) how far it is from X. Plausibility is low for the\n"
        "    latent result by construction: the decoder wrote it.)"
    )


# -- 3. batched search vs. one window at a time -----------------------------------


def bare_stepper(model, reshaper, panel, space):
    """``run(steps)``: jitted JAX Adam steps of the search's loss on the same
    batch, keeping each window's step of lowest loss as the search does;
    with ``windows=True`` it returns the windows of those steps (decoded in
    the latent space), else only the steps are run (and timed)."""
    import jax
    import jax.numpy as jnp

    from sklearn_lstm_reshape import _predict

    decoder = reshaper.decoder_ if space == "latent" else None
    if decoder is None:
        start, scale = panel, reshaper.feature_scale_
    else:
        start, scale = _predict.predict_windows(reshaper.encoder_, panel), reshaper.code_scale_
    predictions = np.asarray(model.predict(panel, verbose=0)).reshape(len(panel), -1)
    target = jnp.asarray(reshaper.target(predictions))
    start, scale = jnp.asarray(start), jnp.asarray(scale)
    prediction_scale = jnp.asarray(reshaper.prediction_scale_)

    def weights(network):
        return (
            [v.value for v in network.trainable_variables],
            [v.value for v in network.non_trainable_variables],
        )

    networks = [network for network in (decoder, model) if network is not None]

    def loss(step, network_weights):
        point = start + step * scale
        for network, (trainable, frozen) in zip(networks, network_weights, strict=True):
            point, _ = network.stateless_call(trainable, frozen, point)
        miss = (point.reshape(len(start), -1) - target) / prediction_scale
        distance = jnp.mean(jnp.square(step).reshape(len(start), -1), axis=1)
        per_window = jnp.mean(jnp.square(miss), axis=1) + PROXIMITY * distance
        return jnp.mean(per_window), per_window

    @jax.jit
    def adam_step(step, m, v, t, best, lowest, network_weights):
        # keras.optimizers.Adam's update, with its defaults.
        gradient, per_window = jax.grad(loss, has_aux=True)(step, network_weights)
        lower = (per_window < lowest).reshape((-1,) + (1,) * (step.ndim - 1))
        best, lowest = jnp.where(lower, step, best), jnp.minimum(per_window, lowest)
        t = t + 1
        alpha = LEARNING_RATE * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        m = m + (gradient - m) * 0.1
        v = v + (jnp.square(gradient) - v) * 0.001
        return step - m * alpha / (jnp.sqrt(v) + 1e-7), m, v, t, best, lowest

    def run(steps, windows=False):
        # Read at every run: Keras's own calls may donate (delete) the arrays
        # a variable held before.
        network_weights = [weights(network) for network in networks]
        step = jnp.zeros_like(start)
        m, v, t = jnp.zeros_like(start), jnp.zeros_like(start), jnp.float32(0)
        best, lowest = jnp.zeros_like(start), jnp.full(len(start), jnp.inf)
        for _ in range(steps):
            step, m, v, t, best, lowest = adam_step(step, m, v, t, best, lowest, network_weights)
        best.block_until_ready()
        if not windows:
            return None
        point = np.asarray(start + best * scale)
        return point if decoder is None else _predict.predict_windows(decoder, point)

    return run


def bench_batching(model, panel, reshaper, loop_windows, bare_steps, repeats):
    n_windows = len(panel)
    print(
        f"\n[3] batched search on {n_windows:,} windows vs. one window at a time on "
        f"{loop_windows}, tol=0 (every window takes steps={STEPS}), "
        f"{repeats} timed repetition(s)"
    )
    results = {}
    for space in SPACES:
        batched = transformer(reshaper, space, panel, tol=0.0, steps=STEPS)
        singles = [
            transformer(reshaper, space, panel[i : i + 1], tol=0.0, steps=STEPS)
            for i in range(loop_windows)
        ]
        bare = bare_stepper(model, reshaper, panel, space)

        def loop(singles=singles):
            for single in singles:
                single()

        # Warm-ups. The compiled search is cached per shape and settings, not
        # per number of steps: 10 steps (one check) compile the batched one.
        # They also check that the bare side computes the same steps.
        found = transformer(reshaper, space, panel, tol=0.0, steps=10)()
        difference = float(np.max(np.abs(found - bare(10, windows=True))))
        print(
            f"    space={space}: check: after 10 steps the two batched sides differ by "
            f"{difference:.1e}"
        )
        assert difference < 1e-2, "the bare steps are not the search's steps"
        transformer(reshaper, space, panel[-1:], tol=0.0, steps=STEPS)()  # not timed below

        batched_times, loop_times, bare_times = interleaved(
            [batched, loop, lambda bare=bare: bare(bare_steps)], repeats
        )
        batched_per_window = [t / n_windows for t in batched_times]
        loop_per_window = [t / loop_windows for t in loop_times]
        bare_full = [t * STEPS / bare_steps for t in bare_times]
        speedup = paired_ratio(loop_per_window, batched_per_window)
        overhead = paired_ratio(batched_times, bare_full)
        median = statistics.median
        print(
            f"    space={space}: batched {median(batched_times):.2f} s = "
            f"{median(batched_per_window) * 1e3:.2f} ms per window; one at a time "
            f"{median(loop_per_window) * 1e3:.1f} ms per window"
        )
        print(
            f"        speed-up of batching (loop / batched, per window): {speedup[0]:.1f} "
            f"(per-repetition range {speedup[1]:.1f} .. {speedup[2]:.1f})"
        )
        print(
            f"        bare JAX Adam steps, same loss and batch: {median(bare_full):.2f} s per "
            f"{STEPS} steps (timed on {bare_steps}); batched search / bare: {overhead[0]:.2f}"
        )
        results[space] = speedup[0], overhead[0]
    return results


# -- driver --------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="much smaller sizes: a smoke test of under a minute"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed repetitions per side (default: 2; 1 with --quick)",
    )
    args = parser.parse_args(argv)

    sizes = SIZES["quick" if args.quick else "full"]
    repeats = args.repeats or sizes["repeats"]
    start = time.perf_counter()

    from sklearn_lstm_reshape.models import make_forecaster

    make_forecaster(8, N_FEATURES, units=4)  # imports Keras with the package's backend
    print(f"LatentReshaper search benchmarks ({'quick' if args.quick else 'full'} sizes)")
    print(versions())
    print("Load average (1, 5, 15 min): {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg()))

    model, panel, reshaper = setup(sizes)
    n_windows = len(panel)
    seconds, reports = bench_search(model, panel, reshaper, repeats)
    add_start_gaps(model, panel, reshaper, reports)
    print_reports(reports, n_windows)
    batching = bench_batching(
        model, panel, reshaper, sizes["loop_windows"], sizes["bare_steps"], repeats
    )

    name = f"optimise {n_windows:,} windows (s)"
    rows = [
        (f"[1] {name}, space=latent", seconds["latent"], "<=", 10.0, ".2f"),
        (f"[1] {name}, space=input", seconds["input"], None, None, ".2f"),
    ]
    for key in ("validity", "proximity"):
        rows += [
            (f"[2] {key}, space={space}", reports[space][key], None, None, ".3f")
            for space in SPACES
        ]
    rows += [
        (f"[3] batching speed-up per window, space={space}", batching[space][0], None, None, ".1f")
        for space in SPACES
    ]
    rows += [
        (
            f"[3] batched search / bare JAX steps, space={space}",
            batching[space][1],
            None,
            None,
            ".2f",
        )
        for space in SPACES
    ]
    print_summary(rows)
    if args.quick:
        print("Quick sizes are a smoke test: the goal applies to the full sizes.")
    print("Load average (1, 5, 15 min): {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg()))
    print(f"Total time: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
