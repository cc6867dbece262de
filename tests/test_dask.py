"""acctsne.dask on a real cluster: LocalCluster with 2 worker processes on loopback.

Everything computed on the cluster is compared bit for bit with the local computation of
the same data: the exact kNN graph, whole fits (init 'pca' and 'random', both sparse
methods) and transform. Also: the approximate graph's recall, scikit-learn's graph
format, a worker killed in the middle of a computation, a closed cluster, Ctrl-C, and
bad input.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster
from sklearn.neighbors import KNeighborsTransformer

from acctsne import TSNE, _core
from acctsne import dask as acctsne_dask


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def _blobs(n, d, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(6, d))
    return (centres[rng.integers(0, 6, n)] + rng.normal(size=(n, d))).astype(dtype)


@pytest.mark.parametrize(
    "n, d, dtype, chunks",
    [
        (2000, 10, np.float32, (300, 1, 900, 799)),  # unequal, one of a single row
        (2000, 10, np.float64, (1000, 1000)),
        (1500, 300, np.float32, (500, 1000)),  # wide rows: the screened search's values
        (1200, 5, np.float32, (1200,)),  # one chunk (fewer chunks than workers)
        (600, 4, np.float32, (20,) * 30),  # chunks smaller than k
    ],
)
def test_exact_graph_is_bitwise_the_local_search(client, n, d, dtype, chunks):
    X = _blobs(n, d, dtype=dtype)
    X[7] = X[8]  # a duplicate row: a neighbour at distance 0, ties by index
    k = 31
    indices, sq_distances = _core.knn_exact(X, k, 2)
    found = acctsne_dask.nearest_neighbors(da.from_array(X, chunks=(chunks, d)), k)
    np.testing.assert_array_equal(found.indices, indices)
    np.testing.assert_array_equal(found.sq_distances.view(np.int32), sq_distances.view(np.int32))


@pytest.mark.parametrize("init", ["pca", "random"])
@pytest.mark.parametrize("method", ["barnes_hut", "fft"])
def test_fit_is_bitwise_the_local_fit(client, init, method):
    X = _blobs(1500, 12, seed=1)
    params = dict(init=init, method=method, random_state=0, max_iter=300)
    local = TSNE(**params).fit(X)
    dX = da.from_array(X, chunks=((400, 700, 400), 12))
    model = TSNE(**params)
    embedding = model.fit_transform(dX)
    np.testing.assert_array_equal(embedding, local.embedding_)
    assert model.kl_divergence_ == local.kl_divergence_
    assert model.n_features_in_ == 12
    assert (model.affinities_ != local.affinities_).nnz == 0


def test_fit_of_int_data_and_exact_method(client):
    # Integers beyond float32's 2^24 round as a local fit's validation rounds them.
    X = np.random.default_rng(2).integers(0, 20, size=(300, 6)) * 2_000_001 + 2**25
    for method in ("exact", "barnes_hut"):
        local = TSNE(method=method, random_state=0, max_iter=250).fit_transform(X)
        dX = da.from_array(X, chunks=(100, 6))
        remote = TSNE(method=method, random_state=0, max_iter=250).fit_transform(dX)
        np.testing.assert_array_equal(remote, local)


def test_transform_is_bitwise_the_local_transform(client):
    X = _blobs(1500, 12, seed=3)
    new = _blobs(400, 12, seed=4)
    for fitted_on in (X, da.from_array(X, chunks=500)):
        model = TSNE(random_state=0, max_iter=250).fit(fitted_on)
        result = model.transform(da.from_array(new, chunks=((50, 250, 100), 12)))
        assert isinstance(result, da.Array)
        assert result.chunks[0] == (50, 250, 100)
        np.testing.assert_array_equal(result.compute(), model.transform(new))


def test_model_fitted_on_dask_saves_its_training_rows(client, tmp_path):
    import joblib

    X = _blobs(800, 6, seed=5)
    model = TSNE(random_state=0, max_iter=250).fit(da.from_array(X, chunks=300))
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path)
    assert isinstance(loaded._training_data, np.ndarray)
    np.testing.assert_array_equal(loaded.transform(X[:50]), model.transform(X[:50]))


def test_blocked_pca_across_chunks_and_against_scikit_learn(client):
    from sklearn.decomposition import PCA

    from acctsne._initialization import pca_components, pca_project, pca_scatter, pca_sums

    # More rows than one PCA block, chunks not on block multiples: the workers' sums
    # continue across chunks and give the local bits.
    X = _blobs(40_000, 10, seed=10)
    mean = pca_sums(X) / len(X)
    local = pca_project(X, mean, pca_components(pca_scatter(X, mean), 2))
    remote = acctsne_dask.pca_embedding(da.from_array(X, chunks=7000), 2)
    np.testing.assert_array_equal(remote, local)
    # The components are scikit-learn's (covariance solver, sign convention) to rounding.
    expected = PCA(n_components=2, svd_solver="covariance_eigh").fit_transform(X)
    np.testing.assert_allclose(local, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    # Fortran-ordered input gives the same bits.
    np.testing.assert_array_equal(
        pca_project(np.asfortranarray(X), mean, pca_components(pca_scatter(X, mean), 2)), local
    )
    assert np.array_equal(pca_sums(np.asfortranarray(X)), pca_sums(X))


def test_kneighbors_graph_has_kneighbors_transformer_format(client):
    X = _blobs(900, 8, seed=6, dtype=np.float64)
    graph = acctsne_dask.kneighbors_graph(da.from_array(X, chunks=250), n_neighbors=10)
    reference = KNeighborsTransformer(n_neighbors=10, mode="distance").fit_transform(X)
    assert graph.shape == reference.shape == (900, 900)
    np.testing.assert_array_equal(graph.indptr, reference.indptr)
    np.testing.assert_array_equal(graph.indices, reference.indices)
    np.testing.assert_allclose(graph.data, reference.data, rtol=1e-6, atol=1e-9)
    # Usable as a precomputed graph.
    tsne = TSNE(metric="precomputed", init="random", perplexity=3, random_state=0)
    embedding = tsne.fit_transform(graph)
    assert np.all(np.isfinite(embedding))


def test_approximate_graph_recall(client):
    X = _blobs(4000, 16, seed=7)
    k = 30
    exact, _ = _core.knn_exact(X, k, 2)
    found = acctsne_dask.nearest_neighbors(da.from_array(X, chunks=1000), k, approximate=True)
    recall = np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(found.indices, exact)])
    assert recall >= 0.95
    assert np.all(found.indices != np.arange(4000)[:, None])  # never itself
    # Rows sorted by distance.
    assert np.all(np.diff(found.sq_distances, axis=1) >= 0)


def test_worker_killed_mid_graph_gives_the_same_graph(client):
    X = _blobs(12000, 20, seed=8)
    k = 20
    expected, _ = _core.knn_exact(X, k, 2)
    dX = da.from_array(X, chunks=500)  # 24 chunks: 576 steps
    before = set(client.scheduler_info()["workers"])
    pids = client.run(os.getpid)
    result = {}

    def run():
        result["graph"] = acctsne_dask.nearest_neighbors(dX, k, client=client)

    thread = threading.Thread(target=run)
    thread.start()
    # Kill one worker process once the computation is under way; its nanny restarts it
    # and dask recomputes what it held.
    deadline = time.time() + 60
    while not any(client.processing().values()) and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    assert thread.is_alive()  # killed in the middle of the computation
    victim = sorted(before)[0]
    os.kill(pids[victim], signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()
    np.testing.assert_array_equal(result["graph"].indices, expected)
    client.wait_for_workers(2, timeout=60)
    assert victim not in set(client.scheduler_info()["workers"])  # it was really replaced


def test_closed_cluster_is_a_clear_error():
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        own = Client(cluster, set_as_default=False)
    own.close()
    X = da.from_array(_blobs(200, 4), chunks=100)
    with pytest.raises(RuntimeError, match="cluster is gone"):
        acctsne_dask.nearest_neighbors(X, 5, client=own)


def test_ctrl_c_cancels_the_futures(client, monkeypatch):
    X = da.from_array(_blobs(3000, 10, seed=9), chunks=300)
    submitted = []
    compute = client.compute

    def recording_compute(collections, *args, **kwargs):
        futures = compute(collections, *args, **kwargs)
        submitted.extend(futures)
        return futures

    def interrupted_gather(futures, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(client, "compute", recording_compute)
    monkeypatch.setattr(client, "gather", interrupted_gather)
    with pytest.raises(KeyboardInterrupt):
        acctsne_dask.nearest_neighbors(X, 10, client=client)
    assert submitted
    deadline = time.time() + 10
    while not all(f.status == "cancelled" for f in submitted) and time.time() < deadline:
        time.sleep(0.05)
    assert all(f.status == "cancelled" for f in submitted)


def test_bad_input(client):
    X = _blobs(300, 4)
    with pytest.raises(ValueError, match="2D dask array"):
        TSNE().fit(da.from_array(X[:, 0], chunks=100))
    unknown = da.from_array(X, chunks=100)
    unknown = unknown[unknown[:, 0] > -100]  # chunk sizes unknown until computed
    with pytest.raises(ValueError, match=r"unknown size; call X\.compute_chunk_sizes"):
        TSNE().fit(unknown)
    with pytest.raises(ValueError, match="at most 1000 features"):
        TSNE().fit(da.from_array(np.zeros((50, 1001)), chunks=10))
    with pytest.raises(TypeError, match="n_neighbors must be an integer"):
        acctsne_dask.kneighbors_graph(da.from_array(X, chunks=100), 5.5)
    with pytest.raises(ValueError, match="metric='euclidean'"):
        TSNE(metric="cosine").fit(da.from_array(X, chunks=100))
    with pytest.raises(ValueError, match="n_neighbors must be in"):
        acctsne_dask.nearest_neighbors(da.from_array(X, chunks=100), 300)
    with pytest.raises(TypeError, match=r"dask\.array\.Array"):
        acctsne_dask.kneighbors_graph(X, 5)
    with pytest.raises(TypeError, match="real numbers"):
        acctsne_dask.check_rows(da.from_array(np.array([["a", "b"]] * 4), chunks=2))
    with pytest.raises(ValueError, match="perplexity"):
        TSNE(perplexity=400).fit(da.from_array(X, chunks=100))
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(FloatingPointError, match="kNN: input contains non-finite"):
        TSNE().fit(da.from_array(bad, chunks=100))
    model = TSNE(max_iter=250, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.transform(da.from_array(X[:, :3], chunks=100))
