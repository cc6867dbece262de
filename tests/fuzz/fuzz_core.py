"""Fuzz target for the native entry points (acctsne._core), run by atheris.

    python tests/fuzz/fuzz_core.py -runs=3000              # the short CI run
    python tests/fuzz/fuzz_core.py -max_total_time=1800    # a longer campaign

Each input picks an entry point and decodes small arrays (any float values, including NaN,
infinities, huge and tiny magnitudes; arbitrary neighbour indices and CSR structure) and
parameters. The only acceptable outcomes are a result or ValueError / TypeError /
FloatingPointError with a message; anything else (another exception, a crash, a sanitizer
report, a hang) is a finding.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    import numpy as np

    from acctsne import _core, _fft

ALLOWED = (ValueError, TypeError, FloatingPointError)
SPECIALS = [np.nan, np.inf, -np.inf, 1e30, -1e30, 1e-30, 0.0, 3e38, -3e38]


def floats(fdp, count):
    values = np.array([fdp.ConsumeFloat() for _ in range(count)], dtype=np.float64)
    if count and fdp.ConsumeBool():
        values[fdp.ConsumeIntInRange(0, count - 1)] = SPECIALS[fdp.ConsumeIntInRange(0, 8)]
    return values


def matrix(fdp, rows, cols, dtype):
    return floats(fdp, rows * cols).reshape(rows, cols).astype(dtype)


def csr(fdp, n):
    nnz = fdp.ConsumeIntInRange(0, 4 * n)
    if fdp.ConsumeBool():  # a well-formed structure
        counts = np.bincount(
            np.array([fdp.ConsumeIntInRange(0, n - 1) for _ in range(nnz)], dtype=np.int64),
            minlength=n,
        )
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    else:  # anything
        indptr = np.array([fdp.ConsumeIntInRange(-2, nnz + 2) for _ in range(n + 1)], np.int64)
    indices = np.array([fdp.ConsumeIntInRange(-2, n + 1) for _ in range(nnz)], np.int32)
    data = np.abs(floats(fdp, nnz)).astype(np.float32)
    return indptr, indices, data


def one_input(raw):
    fdp = atheris.FuzzedDataProvider(raw)
    target = fdp.ConsumeIntInRange(0, 9)
    n = fdp.ConsumeIntInRange(0, 40)
    d = fdp.ConsumeIntInRange(0, 300 if fdp.ConsumeBool() else 6)
    threads = fdp.ConsumeIntInRange(1, 3)
    dtype = np.float32 if fdp.ConsumeBool() else np.float64
    k = fdp.ConsumeIntInRange(-1, n + 1)
    try:
        if target == 0:
            _core.knn_exact(matrix(fdp, n, d, dtype), k, threads)
        elif target == 1:
            neighbors = np.array(
                [[fdp.ConsumeIntInRange(-1, n) for _ in range(max(k, 0))] for _ in range(n)],
                dtype=np.int32,
            ).reshape(n, max(k, 0))
            _core.refine_neighbors(matrix(fdp, n, d, dtype), neighbors, threads)
        elif target == 2:
            d2 = np.abs(matrix(fdp, n, max(k, 0), np.float32))
            _core.conditional_probabilities(d2, fdp.ConsumeFloat(), fdp.ConsumeBool(), threads)
        elif target == 3:
            neighbors = np.array(
                [[fdp.ConsumeIntInRange(-1, n) for _ in range(max(k, 0))] for _ in range(n)],
                dtype=np.int32,
            ).reshape(n, max(k, 0))
            d2 = np.abs(matrix(fdp, n, max(k, 0), np.float32))
            _core.joint_probabilities_nn(neighbors, d2, fdp.ConsumeFloat(), threads)
        elif target in (4, 5):  # a gradient engine: one gradient, or a short descent
            dims = fdp.ConsumeIntInRange(0, 4)
            params = _core.GradientParams(
                method="barnes_hut" if target == 4 else "fft",
                dims=dims,
                dof=fdp.ConsumeIntInRange(0, 3),
                angle=fdp.ConsumeFloat(),
                n_interpolation_points=fdp.ConsumeIntInRange(0, 9),
                min_intervals=fdp.ConsumeIntInRange(0, 20),
                intervals_per_unit=fdp.ConsumeFloat(),
                max_intervals=fdp.ConsumeIntInRange(0, 20),
                heavy_tail_dof=fdp.ConsumeFloat() if fdp.ConsumeBool() else 0.0,
            )
            convolve = _fft.convolver(threads) if target == 5 else None
            engine = _core.GradientEngine(params, csr(fdp, n), threads, convolve)
            Y = matrix(fdp, n, dims, np.float32)
            if fdp.ConsumeBool():
                engine.gradient(Y, True)
            else:
                phase = _core.PhaseParams(
                    exaggeration=fdp.ConsumeFloat(),
                    max_iter=fdp.ConsumeIntInRange(0, 3),
                    n_iter_check=fdp.ConsumeIntInRange(0, 2),
                    learning_rate=fdp.ConsumeFloat(),
                )
                _core.optimize(engine, Y, phase)
        elif target == 6:
            dims = fdp.ConsumeIntInRange(0, 4)
            _core.build_tree(matrix(fdp, n, dims, np.float32), threads)
        elif target == 7:  # transform's neighbour search
            m = fdp.ConsumeIntInRange(0, 20)
            d_query = d if fdp.ConsumeBool() else fdp.ConsumeIntInRange(0, 8)
            _core.knn_query(matrix(fdp, n, d, dtype), matrix(fdp, m, d_query, dtype), k, threads)
        elif target == 8:  # acctsne.dask's kNN block step, with any state arrays
            m = fdp.ConsumeIntInRange(0, 20)
            d_ref = d if fdp.ConsumeBool() else fdp.ConsumeIntInRange(0, 8)
            kk = max(k, 0)
            values = floats(fdp, m * kk).astype(np.float32).reshape(m, kk)
            ids = np.array(
                [fdp.ConsumeIntInRange(-2, n + m + 2) for _ in range(m * kk)], dtype=np.int32
            ).reshape(m, kk)
            exact = floats(fdp, m * kk).reshape(m, kk)
            _core.knn_block_step(
                matrix(fdp, m, d, dtype),
                fdp.ConsumeIntInRange(-1, 50),
                matrix(fdp, n, d_ref, dtype),
                fdp.ConsumeIntInRange(-1, 50),
                k,
                floats(fdp, d if fdp.ConsumeBool() else d_ref),
                fdp.ConsumeFloat(),
                values,
                ids,
                exact,
                threads,
            )
        else:  # transform: a reference field and a short descent of new points in it
            dims = fdp.ConsumeIntInRange(0, 4)
            kind = ["grid", "tree", "exact", "other"][fdp.ConsumeIntInRange(0, 3)]
            field = _core.ReferenceField(
                matrix(fdp, n, dims, np.float32),
                kind=kind,
                alpha=fdp.ConsumeFloat() if fdp.ConsumeBool() else 1.0,
                exponent=fdp.ConsumeFloat() if fdp.ConsumeBool() else 1.0,
                angle=fdp.ConsumeFloat() if fdp.ConsumeBool() else 0.5,
                n_interpolation_points=fdp.ConsumeIntInRange(0, 9),
                min_intervals=fdp.ConsumeIntInRange(0, 6),
                intervals_per_unit=fdp.ConsumeFloat() if fdp.ConsumeBool() else 1.0,
                max_intervals=fdp.ConsumeIntInRange(0, 8),
                grid_margin=fdp.ConsumeFloat() if fdp.ConsumeBool() else 0.25,
                n_threads=threads,
                convolve=_fft.convolver(threads),
            )
            m = fdp.ConsumeIntInRange(0, 10)
            indptr, indices, data = csr(fdp, m)
            phases = [
                (fdp.ConsumeIntInRange(-1, 3), fdp.ConsumeFloat(), fdp.ConsumeFloat())
                for _ in range(fdp.ConsumeIntInRange(0, 2))
            ]
            _core.embed_new_points(
                field,
                indptr,
                np.clip(indices, -2, n + 1).astype(np.int32),
                data.astype(np.float64),
                matrix(fdp, m, dims if fdp.ConsumeBool() else 2, np.float32),
                phases=phases,
                learning_rate=fdp.ConsumeFloat() if fdp.ConsumeBool() else 0.1,
                max_grad_norm=fdp.ConsumeFloat() if fdp.ConsumeBool() else 0.25,
                n_threads=threads,
            )
    except ALLOWED as exc:
        if not str(exc):
            raise AssertionError(f"{type(exc).__name__} without a message") from exc


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
