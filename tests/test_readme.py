"""The README's Python examples run as written, in order, in one namespace."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_examples_run(tmp_path, monkeypatch):
    blocks = python_blocks()
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)  # the plotting example writes a file
    namespace = {"__name__": "__main__"}  # as a script: the Dask example's guard opens
    for number, code in enumerate(blocks, start=1):
        exec(compile(code, f"README.md python block {number}", "exec"), namespace)
    # What the examples promise.
    assert namespace["Y"].shape == (1797, 2)
    assert list(namespace["Y_frame"].columns) == ["tsne0", "tsne1"]
    assert namespace["Y_graph"].shape == namespace["Y_sparse"].shape == (1797, 2)
    assert namespace["Y_large"].shape == (20_000, 2)
    assert np.all(np.isfinite(namespace["Y_large"]))
    assert namespace["tsne"].n_iter_ == 499 and len(namespace["snapshots"]) == 5
    assert (tmp_path / "digits_tsne.png").stat().st_size > 10_000
    assert namespace["Y_new"].shape == (297, 2)
    np.testing.assert_array_equal(
        namespace["Y_again"], namespace["model"].transform(namespace["X_new"])
    )
    np.testing.assert_array_equal(namespace["Y_dask"], namespace["Y"])
    assert namespace["Y_new_dask"].shape == (297, 2)
    assert namespace["graph"].shape == (1797, 1797) and namespace["graph"].nnz == 1797 * 16
    for name in ("Y_tight", "Y_heavy", "Y_multi"):
        assert namespace[name].shape == (1797, 2)
        assert not np.array_equal(namespace[name], namespace["Y"])
