"""Every kernel of the SIMD kernel table, at every level this machine runs, against a
numpy reference and against the baseline level (_core._kernel_<name> runs one kernel).

Where the baseline's arithmetic can be replayed in numpy (the same float operations in
the same order; the baseline ISA has no FMA), the check is bitwise. The wider levels are
compiled with -ffp-contract=fast, so a product feeding a sum may skip its rounding (FMA),
and AVX-512's Barnes-Hut reciprocal is an estimate refined to ~1 ulp: they are checked
within bounds derived per kernel below, scaled by the sum of the absolute terms where a
sum can cancel.
"""

import numpy as np
import pytest

from acctsne import _core

LEVELS = _core.simd_info()["supported"]
BASE = "baseline"
F32_EPS = float(np.finfo(np.float32).eps)
F64_EPS = float(np.finfo(np.float64).eps)


@pytest.fixture(params=LEVELS)
def level(request):
    return request.param


def f32(x):
    return np.asarray(x, dtype=np.float32)


def _interleaved_sum(terms, n_sums, dtype):
    """terms[f] summed into partial sum f % n_sums in f order, as the kernels do."""
    sums = [dtype(0)] * n_sums
    for f, t in enumerate(terms):
        sums[f % n_sums] = dtype(sums[f % n_sums] + t)
    return sums


# ---- squared distances -------------------------------------------------------------------
LENGTHS = [0, 1, 3, 15, 16, 17, 31, 50, 129]


@pytest.mark.parametrize("n", LENGTHS)
def test_squared_distance(level, n, rng):
    a, b = f32(rng.normal(size=n)), f32(rng.normal(size=n))
    diff = a - b
    sums = _interleaved_sum(diff * diff, 16, np.float32)
    ref = np.float32(0)
    for s in sums:
        ref = np.float32(ref + s)
    got = _core._kernel_squared_distance(level, a, b)
    base = _core._kernel_squared_distance(BASE, a, b)
    assert np.float32(base) == ref  # the baseline replays these float32 operations exactly
    # Positive terms, the same association: a fused product changes each term by at most
    # half an ulp, and the n additions of either side are within gamma_n of the exact sum.
    assert abs(got - base) <= 2 * (n + 1) * F32_EPS * float(ref)


@pytest.mark.parametrize("n", LENGTHS)
def test_squared_distance64(level, n, rng):
    a, b = f32(rng.normal(size=n)), f32(rng.normal(size=n))
    diff = a.astype(np.float64) - b.astype(np.float64)
    s = _interleaved_sum(diff * diff, 8, np.float64)
    ref = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
    got = _core._kernel_squared_distance64(level, a, b)
    base = _core._kernel_squared_distance64(BASE, a, b)
    assert base == ref
    assert abs(got - base) <= 2 * (n + 1) * F64_EPS * ref  # as in float32, in float64


# ---- kNN dot tile --------------------------------------------------------------------------
def _bits(flags):
    """Row-wise bit masks (bit r = flags[:, r]) as uint64."""
    weights = np.left_shift(np.uint64(1), np.arange(flags.shape[1], dtype=np.uint64))
    return (flags.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)


@pytest.mark.parametrize("nq", [1, 3, 4, 7])
@pytest.mark.parametrize("d", [1, 5, 33])
def test_dot_tile(level, nq, d, rng):
    queries = f32(rng.normal(size=(nq, d)))
    tile = f32(rng.normal(size=(d, 64)))
    q_norms = (queries.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)
    t_norms = (tile.astype(np.float64) ** 2).sum(axis=0).astype(np.float32)
    t_norms[-5:] = np.inf  # padding references
    acc = np.zeros((nq, 64), np.float32)
    for f in range(d):  # the baseline's chain: one float32 multiply-add per feature
        acc = acc + queries[:, f, None] * tile[None, f, :]
    ref = (q_norms[:, None] + t_norms[None, :]) - np.float32(2) * acc
    thresholds = f32(np.median(ref[:, :-5], axis=1))
    col_thresholds = f32(np.median(ref[:, :-5], axis=0).tolist() + [np.inf] * 5)

    base, _, _ = _core._kernel_dot_tile(BASE, queries, tile, q_norms, t_norms, thresholds)
    np.testing.assert_array_equal(base, ref)
    for cols in (None, col_thresholds):
        out, masks, col_masks = _core._kernel_dot_tile(
            level, queries, tile, q_norms, t_norms, thresholds, cols
        )
        # Fused multiply-adds: each of the d + 2 operations of an entry within half an ulp
        # of its own terms' magnitudes (inf lanes must stay inf).
        scale = q_norms[:, None] + t_norms[None, :] + 2 * np.abs(queries) @ np.abs(tile)
        finite = np.isfinite(t_norms)
        assert np.all(np.isinf(out[:, ~finite]))
        err = np.abs(out[:, finite] - ref[:, finite])
        assert np.all(err <= (d + 3) * F32_EPS * scale[:, finite])
        # The masks are exactly the kernel's own distances' comparisons.
        np.testing.assert_array_equal(masks, _bits(out <= thresholds[:, None]))
        if cols is None:
            assert col_masks is None
        else:
            np.testing.assert_array_equal(col_masks, _bits(out <= cols[None, :]))


# ---- perplexity step -----------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3, 7, 8, 9, 30, 91])
@pytest.mark.parametrize("beta", [1e-3, 0.7, 40.0, 1e6])
def test_perplexity_step(level, k, beta, rng):
    dist = f32(rng.uniform(0.0, 3.0, size=k))
    skip = int(rng.integers(-1, k))  # -1: no entry skipped
    min_row_sum = 1e-12
    p_ref = np.exp(-dist.astype(np.float64) * beta)
    if skip >= 0:
        p_ref[skip] = 0.0
    sum_ref = p_ref.sum() or min_row_sum
    p_ref /= sum_ref
    dp_ref = float(dist.astype(np.float64) @ p_ref)

    sum_p, p, dp = _core._kernel_perplexity_step(level, dist, skip, beta, min_row_sum)
    base_sum, base_p, base_dp = _core._kernel_perplexity_step(BASE, dist, skip, beta, min_row_sum)
    # numpy: the vector exp is within a couple of ulps, the sums are in another order.
    np.testing.assert_allclose(sum_p, sum_ref, rtol=1e-14)
    np.testing.assert_allclose(p, p_ref, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(dp, dp_ref, rtol=1e-14, atol=1e-300)
    # Levels: same lanes and association; only the exp polynomial's fused steps differ (a
    # few ulps a term), and the sums are of positive terms.
    np.testing.assert_allclose(sum_p, base_sum, rtol=8 * F64_EPS)
    np.testing.assert_allclose(p, base_p, rtol=16 * F64_EPS, atol=1e-300)
    np.testing.assert_allclose(dp, base_dp, rtol=16 * F64_EPS, atol=1e-300)
    if skip >= 0:
        assert p[skip] == 0.0


def test_perplexity_step_underflow_uses_min_row_sum(level):
    dist = f32([5.0, 6.0, 7.0])
    sum_p, p, dp = _core._kernel_perplexity_step(level, dist, -1, 1e6, 1e-12)
    assert sum_p == 1e-12 and not p.any() and dp == 0.0


# ---- row projections -----------------------------------------------------------------------
@pytest.mark.parametrize("n_rows", [1, 5, 8])
@pytest.mark.parametrize("m", [1, 3, 4, 9, 17])
def test_project_rows(level, n_rows, m, rng):
    d = 13
    rows = f32(rng.normal(size=(n_rows, d + 3)))  # ld = d + 3: the stride is honoured
    basis_t = rng.normal(size=(d, m))
    ref = np.zeros((n_rows, m))
    for f in range(d):  # one float64 chain in f order
        ref = ref + rows[:, f, None].astype(np.float64) * basis_t[None, f, :]
    base = _core._kernel_project_rows(BASE, rows, d, basis_t)
    out = _core._kernel_project_rows(level, rows, d, basis_t)
    np.testing.assert_array_equal(base, ref)
    bound = (d + 1) * F64_EPS * (np.abs(rows[:, :d]).astype(np.float64) @ np.abs(basis_t))
    assert np.all(np.abs(out - ref) <= bound)  # fused multiply-adds in the same chain


# ---- Barnes-Hut interactions ---------------------------------------------------------------
def _weights(d2, dof):
    return dof / (dof + d2) if dof == 1 else (2.0 / (2.0 + d2)) ** 1.5


# Float32 terms (a reciprocal or division within ~1 ulp, a sqrt, a few products) summed in
# the same order at every level: within ~(terms + 8) ulps of the sum of |terms|.
def _assert_close_sums(got, ref, abs_sum, n_terms):
    assert np.all(np.abs(got - ref) <= (n_terms + 8) * F32_EPS * abs_sum + 1e-30)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("dof", [1, 2])
@pytest.mark.parametrize("n_points", [16, 48, 64])
def test_interact(level, dims, dof, n_points, rng):
    pos = f32(rng.normal(size=(dims, n_points)))
    size, n_plain = 37, 21
    list_pos = f32(rng.normal(scale=2.0, size=(dims, size)))
    list_pos[:, n_plain] = pos[:, 3]  # a point's own leaf entry: skipped by that point
    list_pos[:, n_plain + 1] = pos[:, 3] + 5e-7  # a duplicate within 1e-6: skipped too
    count = f32(rng.integers(1, 9, size=size))

    diff = pos.astype(np.float64)[:, :, None] - list_pos.astype(np.float64)[:, None, :]
    w = _weights((diff**2).sum(axis=0), dof)
    near = np.all(np.abs(f32(pos[:, :, None] - list_pos[:, None, :])) <= 1e-6, axis=0)
    near[:, :n_plain] = False
    cw = np.where(near, 0.0, count[None, :] * w)
    z_ref, force_ref = cw.sum(axis=1), (cw * w * diff).sum(axis=2)
    force_abs = (cw * w * np.abs(diff)).sum(axis=2)
    assert near[3, n_plain] and near[3, n_plain + 1]

    force, z = _core._kernel_interact(level, dof, pos, list_pos, count, n_plain)
    base_force, base_z = _core._kernel_interact(BASE, dof, pos, list_pos, count, n_plain)
    _assert_close_sums(z, z_ref, z_ref, size)
    _assert_close_sums(force, force_ref, force_abs, size)
    _assert_close_sums(z, base_z, z_ref, size)
    _assert_close_sums(force, base_force, force_abs, size)


# ---- attraction and the KL log-sum ---------------------------------------------------------
def _csr(rng, n, max_len):
    """A random P with empty rows, rows shorter than any vector, and a row order."""
    lengths = rng.integers(0, max_len + 1, size=n)
    lengths[::7] = 0
    lengths[1::5] = rng.integers(1, 4, size=len(lengths[1::5]))
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = rng.integers(0, n, size=indptr[-1]).astype(np.int32)
    data = f32(rng.uniform(0.0, 1e-2, size=indptr[-1]))
    return indptr, indices, data


def _entries(indptr, indices, data, row_point, p_scale, Y, rows):
    """Per entry of the given rows (row r is point row_point[r]): (i, j, p_e) in float64."""
    i_list, j_list, p_list = [], [], []
    for r in rows:
        i = r if row_point is None else row_point[r]
        for e in range(indptr[r], indptr[r + 1]):
            i_list.append(i)
            j_list.append(indices[e])
            p_list.append(np.float32(data[e] * np.float32(p_scale)))
    return np.array(i_list, int), np.array(j_list, int), np.array(p_list, np.float64)


CSR_CASES = [(None, 1.0), ("shuffled", 12.0)]


def _csr_case(rng, n, dims, order, p_scale, row_begin, row_end):
    """A kernel's arguments: random CSR rows, each the row of a point (shuffled or not)."""
    indptr, indices, data = _csr(rng, n, 40)
    row_point = None if order is None else rng.permutation(n).astype(np.int32)
    Y = f32(rng.normal(scale=3.0, size=(n, dims)))
    return (indptr, indices, data, row_point, p_scale, Y, row_begin, row_end)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("dof", [1, 2])
@pytest.mark.parametrize(("order", "p_scale"), CSR_CASES)
def test_attract(level, dims, dof, order, p_scale, rng):
    n, row_begin, row_end = 60, 5, 52
    args = _csr_case(rng, n, dims, order, p_scale, row_begin, row_end)
    indptr, row_point, Y = args[0], args[3], args[5]

    i, j, p = _entries(*args[:-2], range(row_begin, row_end))
    diff = Y[i].astype(np.float64) - Y[j]
    terms = (p * _weights((diff**2).sum(axis=1), dof))[:, None] * diff
    ref, abs_sum = np.zeros((n, dims)), np.zeros((n, dims))
    np.add.at(ref, i, terms)
    np.add.at(abs_sum, i, np.abs(terms))

    out = _core._kernel_attract(level, dof, *args)
    base = _core._kernel_attract(BASE, dof, *args)
    points = np.arange(n) if row_point is None else row_point
    unwritten = np.setdiff1d(np.arange(n), points[row_begin:row_end])
    assert not out[unwritten].any()  # only the points of its rows written
    # Each level sums a row in its own lane order (W lanes, then the lanes in order): the
    # association differs with W, so the bound is the float32 summation's over a row.
    row_len = int(np.diff(indptr).max())
    _assert_close_sums(out, ref, abs_sum, row_len)
    _assert_close_sums(out, base, abs_sum, row_len)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("dof", [1.0, 2.0])
@pytest.mark.parametrize(("order", "p_scale"), CSR_CASES)
def test_log_sum(level, dims, dof, order, p_scale, rng):
    n, row_begin, row_end = 60, 3, 57
    args = _csr_case(rng, n, dims, order, p_scale, row_begin, row_end)
    indptr, Y = args[0], args[5]

    i, j, p = _entries(*args[:-2], range(row_begin, row_end))
    d2 = ((Y[i].astype(np.float64) - Y[j]) ** 2).sum(axis=1)
    ref = float((p * np.log1p(d2 / dof)).sum())

    got = _core._kernel_log_sum(level, dof, *args)
    base = _core._kernel_log_sum(BASE, dof, *args)
    # Positive terms: the vector log is within ~1e-7 relative, d2 and the products are
    # float32 (a few ulps), and a row's float lanes add at most ~row_len / 4 terms each.
    rtol = 1e-7 + (int(np.diff(indptr).max()) / 4 + 8) * F32_EPS
    np.testing.assert_allclose(got, ref, rtol=rtol)
    np.testing.assert_allclose(got, base, rtol=rtol)


# ---- the table itself -----------------------------------------------------------------------
def test_baseline_is_always_supported():
    assert LEVELS[0] == BASE


def test_unknown_level_and_bad_shape_are_clear_errors():
    with pytest.raises(ValueError, match="unknown SIMD level 'sse9'"):
        _core._kernel_squared_distance("sse9", f32([1.0]), f32([2.0]))
    pos = np.zeros((4, 16), np.float32)
    with pytest.raises(ValueError, match=r"dims must be 1\.\.3, got 4"):
        _core._kernel_interact(BASE, 1, pos, pos, np.ones(16, np.float32), 0)
    with pytest.raises(ValueError, match="dof must be 1 or 2, got 3"):
        _core._kernel_interact(BASE, 3, pos[:2], pos[:2], np.ones(16, np.float32), 0)


def test_scalar_is_an_alias_of_baseline():
    a, b = f32(np.arange(20.0)), f32(np.arange(20.0)[::-1])
    assert _core._kernel_squared_distance("scalar", a, b) == _core._kernel_squared_distance(
        BASE, a, b
    )
