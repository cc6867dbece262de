"""The heavy-tailed kernel (``heavy_tail_dof``, openTSNE's and FIt-SNE's ``dof``) of every
gradient method: engines against a float64 NumPy reference of the formulas, the formulas
against finite differences of the KL divergence, a = 1 bit for bit the default dof-1
kernel, the validation of the value, thread-count independence, and its SIMD kernels at
every level.

With u = 1 / (1 + d^2 / a) and w = u^a:
    KL = sum p log p + a sum p log(1 + d^2 / a) + log Z sum p,   Z = sum_{i != j} w_ij
    dKL/dy_i = 4 sum_j (p_ij - w_ij / Z) u_ij (y_i - y_j)
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from acctsne import _core
from acctsne._optimization import make_engine

from conftest import blobs, gradient, sparse_p

A_VALUES = [0.5, 1.0, 3.0]
N_POINTS = 500

# (method, engine keywords, gradient tolerance relative to max |grad|, KL relative tolerance)
METHODS = [
    pytest.param("exact", {}, 1e-6, 1e-12, id="exact"),
    pytest.param("barnes_hut", {"angle": 0.0}, 2e-5, 1e-6, id="bh-angle0"),
    pytest.param("barnes_hut", {"angle": 0.3}, 1e-2, 1e-3, id="bh-angle0.3"),
    pytest.param("fft", {}, 1e-2, 1e-4, id="fft"),
]


def reference(Y, P, a):
    """(KL, dKL/dY) of the heavy-tailed kernel in float64; P dense, zero diagonal."""
    Y = np.asarray(Y, dtype=np.float64)
    diff = Y[:, None, :] - Y[None, :, :]
    d2 = (diff**2).sum(axis=-1)
    u = 1.0 / (1.0 + d2 / a)
    w = u**a
    np.fill_diagonal(w, 0.0)
    z = w.sum()
    grad = 4.0 * (((P - w / z) * u)[:, :, None] * diff).sum(axis=1)
    nonzero = P > 0
    kl = (
        (P[nonzero] * np.log(P[nonzero])).sum()
        + a * (P * np.log1p(d2 / a)).sum()
        + np.log(z) * P.sum()
    )
    return kl, grad


@pytest.fixture(scope="module")
def problem():
    X, _ = blobs(N_POINTS, 6, seed=5)
    return sparse_p(X, 20.0)


def _embedding(dims, seed=0):
    return (4.0 * np.random.default_rng(seed).standard_normal((N_POINTS, dims))).astype(np.float32)


def _p_for(method, P):
    return P.toarray().astype(np.float64) if method == "exact" else P


def _engine_gradient(method, Y, P, *, exaggeration=1.0, n_threads=1, **params):
    engine = make_engine(
        _p_for(method, P),
        method=method,
        n_components=Y.shape[1],
        degrees_of_freedom=1,
        n_threads=n_threads,
        **params,
    )
    try:
        engine.exaggeration = exaggeration
        return engine.gradient(Y, True)
    finally:
        engine.close()


# Every method in every dimension it embeds in (FFT: 1-D and 2-D).
METHODS_BY_DIMS = [
    pytest.param(*m.values, dims, id=f"{m.id}-{dims}d")
    for m in METHODS
    for dims in ((1, 2) if m.values[0] == "fft" else (1, 2, 3))
]


@pytest.mark.parametrize(("method", "params", "grad_tol", "kl_rtol", "dims"), METHODS_BY_DIMS)
@pytest.mark.parametrize("a", A_VALUES)
def test_engine_matches_the_reference(problem, method, params, grad_tol, kl_rtol, dims, a):
    Y = _embedding(dims, seed=dims)
    kl_ref, grad_ref = reference(Y, problem.toarray().astype(np.float64), a)
    kl, grad = gradient(method, Y, _p_for(method, problem), heavy_tail_dof=a, **params)
    assert np.abs(grad - grad_ref).max() <= grad_tol * np.abs(grad_ref).max()
    assert kl == pytest.approx(kl_ref, rel=kl_rtol)


@pytest.mark.parametrize(("method", "params", "grad_tol", "kl_rtol"), METHODS)
def test_exaggeration_multiplies_p(problem, method, params, grad_tol, kl_rtol):
    Y, a, exaggeration = _embedding(2, seed=7), 0.5, 12.0
    P = problem.toarray().astype(np.float64) * exaggeration
    kl_ref, grad_ref = reference(Y, P, a)
    kl, grad = _engine_gradient(
        method, Y, problem, exaggeration=exaggeration, heavy_tail_dof=a, **params
    )
    assert np.abs(grad - grad_ref).max() <= grad_tol * np.abs(grad_ref).max()
    assert kl == pytest.approx(kl_ref, rel=kl_rtol)


@pytest.mark.parametrize(("method", "params", "grad_tol", "kl_rtol"), METHODS)
@pytest.mark.parametrize("off", [1.0, 0.0, None])
def test_a_of_one_and_off_are_the_default_kernel_bit_for_bit(
    problem, method, params, grad_tol, kl_rtol, off
):
    # a = 1 is the Cauchy kernel: routed to the dof-1 kernels. 0 and None: off.
    Y = _embedding(2, seed=3)
    kl_default, grad_default = gradient(method, Y, _p_for(method, problem), **params)
    kl, grad = gradient(method, Y, _p_for(method, problem), heavy_tail_dof=off, **params)
    np.testing.assert_array_equal(grad, grad_default)
    assert kl == kl_default


def test_a_of_one_replaces_dof_two_in_3d(problem):
    # The heavy-tailed kernel replaces sklearn's of `dof` (2 for 3-D): a = 1 is dof 1.
    Y = _embedding(3, seed=4)
    for method in ("barnes_hut", "exact"):
        P = _p_for(method, problem)
        expected = gradient(method, Y, P, dof=1)
        got = gradient(method, Y, P, dof=2, heavy_tail_dof=1.0)
        np.testing.assert_array_equal(got[1], expected[1])
        assert got[0] == expected[0]


def test_oracle_a_of_one_is_dof_one(problem):
    Y = _embedding(2, seed=5)
    P = problem.toarray().astype(np.float64)
    kl, grad = _core.exact_gradient(Y, P, dof=1)
    kl_heavy, grad_heavy = _core.exact_gradient(Y, P, dof=2, heavy_tail_dof=1.0)
    np.testing.assert_array_equal(grad_heavy, grad)
    assert kl_heavy == kl


def _random_joint_p(rng, n):
    P = rng.uniform(size=(n, n))
    P = P + P.T
    np.fill_diagonal(P, 0.0)
    return P / P.sum()


@pytest.mark.parametrize("a", A_VALUES)
def test_reference_gradient_is_the_derivative_of_the_kl(a):
    # The formula itself: central differences of the reference KL (float64, sum P = 1).
    rng = np.random.default_rng(11)
    n, dims, h = 25, 2, 1e-5
    P = _random_joint_p(rng, n)
    Y = rng.normal(scale=2.0, size=(n, dims))
    _, grad = reference(Y, P, a)
    numeric = np.empty_like(Y)
    for i in range(n):
        for k in range(dims):
            step = np.zeros_like(Y)
            step[i, k] = h
            numeric[i, k] = (reference(Y + step, P, a)[0] - reference(Y - step, P, a)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8 * np.abs(grad).max())


@pytest.mark.parametrize("a", A_VALUES)
def test_oracle_gradient_is_the_derivative_of_its_kl(a):
    # The float64 oracle (_core.exact_gradient) on float32 Y: steps of 2^-12 are exact.
    rng = np.random.default_rng(12)
    n, dims, h = 25, 2, 2.0**-12
    P = _random_joint_p(rng, n)
    Y = rng.normal(scale=2.0, size=(n, dims)).astype(np.float32)
    _, grad = _core.exact_gradient(Y, P, heavy_tail_dof=a)
    numeric = np.empty(Y.shape)
    for i in range(n):
        for k in range(dims):
            up, down = Y.copy(), Y.copy()
            up[i, k] += np.float32(h)
            down[i, k] -= np.float32(h)
            kl_up = _core.exact_gradient(up, P, heavy_tail_dof=a)[0]
            kl_down = _core.exact_gradient(down, P, heavy_tail_dof=a)[0]
            numeric[i, k] = (kl_up - kl_down) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=0, atol=1e-6 * np.abs(grad).max())


@pytest.mark.parametrize("value", [-0.5, -np.inf, np.nan, np.inf])
def test_invalid_values_are_value_errors_naming_them(problem, value):
    pattern = f"heavy_tail_dof.*{re.escape(str(value))}"
    with pytest.raises(ValueError, match=pattern):
        _core.GradientParams(heavy_tail_dof=value)
    with pytest.raises(ValueError, match=pattern):
        make_engine(
            problem,
            method="barnes_hut",
            n_components=2,
            degrees_of_freedom=1,
            heavy_tail_dof=value,
        )
    Y = _embedding(2)[:10]
    with pytest.raises(ValueError, match=pattern):
        _core.exact_gradient(Y, np.zeros((10, 10)), heavy_tail_dof=value)


def test_params_report_the_value():
    assert _core.GradientParams().heavy_tail_dof == 0.0
    assert _core.GradientParams(heavy_tail_dof=0.25).heavy_tail_dof == 0.25


@pytest.mark.parametrize(("method", "params", "grad_tol", "kl_rtol"), METHODS)
@pytest.mark.parametrize("a", [0.5, 3.0])
def test_results_do_not_depend_on_the_thread_count(problem, method, params, grad_tol, kl_rtol, a):
    Y = _embedding(2, seed=9)
    kl_1, grad_1 = _engine_gradient(method, Y, problem, n_threads=1, heavy_tail_dof=a, **params)
    kl_2, grad_2 = _engine_gradient(method, Y, problem, n_threads=2, heavy_tail_dof=a, **params)
    np.testing.assert_array_equal(grad_1, grad_2)
    assert kl_1 == kl_2


# ---- the SIMD kernels at every level ------------------------------------------------------
LEVELS = _core.simd_info()["supported"]
F32 = np.float32


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("a", [0.5, 3.0])
def test_interact_kernel(level, dims, a):
    rng = np.random.default_rng(dims)
    n_points, size, n_plain = 48, 37, 21
    pos = rng.normal(size=(dims, n_points)).astype(F32)
    list_pos = rng.normal(scale=2.0, size=(dims, size)).astype(F32)
    list_pos[:, n_plain] = pos[:, 3]  # the point's own entry: skipped by that point only
    count = rng.integers(1, 9, size=size).astype(F32)
    diff = pos.astype(np.float64)[:, :, None] - list_pos.astype(np.float64)[:, None, :]
    u = 1.0 / (1.0 + (diff**2).sum(axis=0) / a)
    cw = count * u**a
    cw[3, n_plain] = 0.0
    z_ref, force_ref = cw.sum(axis=1), (cw * u * diff).sum(axis=2)
    force_abs = (cw * u * np.abs(diff)).sum(axis=2)

    force, z = _core._kernel_interact(level, 1, pos, list_pos, count, n_plain, heavy_tail_dof=a)
    # float32 terms; w = exp(a log u) within ~1e-7 a |log u| (< 1e-6 here) relative.
    assert np.all(np.abs(z - z_ref) <= 2e-6 * z_ref)
    assert np.all(np.abs(force - force_ref) <= 2e-6 * force_abs + 1e-30)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("a", [0.5, 3.0])
def test_attract_kernel(level, dims, a):
    rng = np.random.default_rng(10 + dims)
    n, row_begin, row_end = 60, 5, 52
    lengths = rng.integers(0, 41, size=n)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = rng.integers(0, n, size=indptr[-1]).astype(np.int32)
    data = rng.uniform(0.0, 1e-2, size=indptr[-1]).astype(F32)
    Y = rng.normal(scale=3.0, size=(n, dims)).astype(F32)
    p_scale = 12.0
    ref, abs_sum = np.zeros((n, dims)), np.zeros((n, dims))
    for i in range(row_begin, row_end):
        j = indices[indptr[i] : indptr[i + 1]]
        p = (data[indptr[i] : indptr[i + 1]] * F32(p_scale)).astype(np.float64)
        diff = Y[i].astype(np.float64) - Y[j]
        terms = (p / (1.0 + (diff**2).sum(axis=1) / a))[:, None] * diff
        ref[i], abs_sum[i] = terms.sum(axis=0), np.abs(terms).sum(axis=0)

    out = _core._kernel_attract(
        level, 1, indptr, indices, data, None, p_scale, Y, row_begin, row_end, heavy_tail_dof=a
    )
    assert not out[:row_begin].any() and not out[row_end:].any()
    assert np.all(np.abs(out - ref) <= 60 * np.finfo(F32).eps * abs_sum + 1e-30)
