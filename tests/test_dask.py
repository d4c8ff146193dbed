"""Grid searches on a dask.distributed cluster of worker processes.

These start a LocalCluster (a few seconds); deselect them with -m 'not dask'.
"""

import pickle

import joblib
import numpy as np
import pytest
from distributed import Client, LocalCluster
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline

from sklearn_lstm_reshape import ThresholdReshaper

pytestmark = pytest.mark.dask


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each, started by spawn (dask's
    default): a worker never inherits a process that has initialised JAX."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def searched(pipe, grid, X, y, *, on_dask):
    search = GridSearchCV(pipe, grid, cv=TimeSeriesSplit(2))
    if not on_dask:
        return search.fit(X, y)
    with joblib.parallel_config(backend="dask"):
        return search.fit(X, y)


@pytest.mark.parametrize("given_model", [True, False], ids=["frozen model", "default model"])
def test_a_grid_search_on_a_cluster_finds_what_one_process_finds(
    client, series, forecaster, given_model
):
    X, y = series.X, series.X[:, 0]
    reshaper = ThresholdReshaper(forecaster if given_model else None, random_state=0)
    pipe = make_pipeline(reshaper, Ridge())
    grid = {
        "thresholdreshaper__action": ["interpolate", "forecast"],
        "thresholdreshaper__contamination": [0.01, 0.05],
    }
    local, distributed = (searched(pipe, grid, X, y, on_dask=d) for d in (False, True))
    assert distributed.best_params_ == local.best_params_
    # A worker of one thread may sum in another order than this process: the
    # scores agree to float32 rounding (measured: exactly, on this data).
    np.testing.assert_allclose(
        distributed.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-5
    )
    assert len(client.scheduler_info()["workers"]) == 2


def test_a_dask_array_is_transformed_on_the_workers_with_the_estimator_shipped_once(
    client, series, forecaster, monkeypatch
):
    import dask.array as da

    reshaper = ThresholdReshaper(forecaster, random_state=0).fit(series.X)
    X = np.concatenate([series.X] * 8)
    expected = reshaper.transform(X)
    pickled = []
    plain = ThresholdReshaper.__getstate__

    def counting(self):
        pickled.append(1)
        return plain(self)

    monkeypatch.setattr(ThresholdReshaper, "__getstate__", counting)
    result = reshaper.transform(da.from_array(X, chunks=(100, 3)))
    n_chunks = result.numblocks[0]
    np.testing.assert_array_equal(client.compute(result).result(), expected, strict=True)
    # One key of the graph, sent once per worker that needs it, not once per chunk.
    assert n_chunks >= 8 and 1 <= len(pickled) <= 2


def test_a_series_persisted_on_the_workers_is_read_from_them(client, series, forecaster):
    import dask.array as da

    reshaper = ThresholdReshaper(forecaster, random_state=0).fit(series.X)
    X = np.concatenate([series.X] * 4)
    X[1000:1010, 0] += 5.0  # a fault across the first chunk boundary
    persisted = client.persist(da.from_array(X, chunks=(1001, 3)))
    result = client.compute(reshaper.transform(persisted)).result()
    np.testing.assert_array_equal(result, reshaper.transform(X), strict=True)


def unpickled_twice(first, second):
    """Whether two pickles of one estimator share their model once unpickled
    (the fitted one's model_ staying its model)."""
    a, b = pickle.loads(first), pickle.loads(second)
    return a.model is b.model and b.model_ is b.model


def test_a_worker_builds_a_frozen_model_once_for_every_candidate(client, series, forecaster):
    reshaper = ThresholdReshaper(forecaster, random_state=0)
    first, second = pickle.dumps(reshaper), pickle.dumps(reshaper.fit(series.X[:200]))
    assert all(client.run(unpickled_twice, first, second).values())
    # Outside a worker, each unpickled estimator has a model of its own, as before.
    assert pickle.loads(first).model is not pickle.loads(second).model
    # A model whose weights changed is another model.
    weights = forecaster.get_weights()
    try:
        forecaster.set_weights([w + 1.0 for w in weights])
        third = pickle.dumps(reshaper)
    finally:
        forecaster.set_weights(weights)
    assert not any(client.run(unpickled_twice, first, third).values())
