"""The ``acctsne`` command line: embed files of every supported format, write the
embedding and a plot, run the demo, the benchmark and the config report."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from acctsne import TSNE
from acctsne._cli import main

from conftest import blobs

FAST = ["--max-iter", "250", "--random-state", "0", "--n-jobs", "2"]


@pytest.fixture(scope="module")
def data():
    X, y = blobs(300, 6)
    return X, y


def test_embed_npz_writes_embedding_equal_to_the_estimator(tmp_path, data):
    X, y = data
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out = tmp_path / "emb.npy"
    assert (
        main(["embed", str(tmp_path / "d.npz"), "-o", str(out), "--perplexity", "20", *FAST]) == 0
    )
    expected = TSNE(perplexity=20, max_iter=250, random_state=0, n_jobs=2).fit_transform(X)
    np.testing.assert_array_equal(np.load(out), expected)


def test_embed_npy_default_output_and_extension_options(tmp_path, data, capsys):
    X, _ = data
    np.save(tmp_path / "x.npy", X)
    args = ["embed", str(tmp_path / "x.npy"), "--method", "exact", "--n-components", "1", *FAST]
    assert main(args) == 0
    Y = np.load(tmp_path / "x_tsne.npy")
    assert Y.shape == (300, 1) and np.all(np.isfinite(Y))
    assert "x_tsne.npy" in capsys.readouterr().out


def test_embed_csv_with_label_column_to_csv_and_plot(tmp_path, data):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["kind"] = np.array(["a", "b", "c", "d"])[y]
    frame.to_csv(tmp_path / "t.csv", index=False)
    out, png = tmp_path / "e.csv", tmp_path / "e.png"
    assert (
        main(
            [
                "embed",
                str(tmp_path / "t.csv"),
                "-o",
                str(out),
                "--label-column",
                "kind",
                "--plot",
                str(png),
                *FAST,
            ]
        )
        == 0
    )
    table = pd.read_csv(out)
    assert list(table.columns) == ["tsne_1", "tsne_2", "label"]
    assert list(table["label"]) == list(frame["kind"])
    # The label column is not a feature: same embedding as the 6 numeric columns.
    expected = TSNE(max_iter=250, random_state=0, n_jobs=2).fit_transform(X)
    np.testing.assert_allclose(table[["tsne_1", "tsne_2"]].to_numpy(), expected, rtol=1e-6)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_embed_parquet_or_a_clear_import_error(tmp_path, data, capsys):
    pd = pytest.importorskip("pandas")
    X, _ = data
    path = tmp_path / "t.parquet"
    try:
        pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).to_parquet(path)
    except ImportError:
        path.write_bytes(b"PAR1")  # no parquet engine: reading must fail clearly
        assert main(["embed", str(path), *FAST]) == 2
        assert "pyarrow" in capsys.readouterr().err
        return
    assert main(["embed", str(path), "-o", str(tmp_path / "p.npz"), *FAST]) == 0
    assert np.load(tmp_path / "p.npz")["embedding"].shape == (300, 2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["embed", "missing.npy"], "does not exist"),
        (["embed", "{tmp}/d.txt"], "unsupported input format '.txt'"),
        (["embed", "{tmp}/d.npz", "--x-key", "Z"], "no array 'Z'"),
        (["embed", "{tmp}/d.npz", "-o", "{tmp}/e.json"], "unsupported output format"),
        (["embed", "{tmp}/d.npz", "--perplexity", "-3"], "perplexity"),
        (["embed", "{tmp}/d.npz", "--method", "nope"], "method"),
        (["embed", "{tmp}/d.npz", "--labels", "{tmp}/short.npy"], "3 labels for 300 samples"),
    ],
)
def test_embed_errors_exit_2_with_a_message(tmp_path, data, capsys, args, message):
    X, y = data
    np.savez(tmp_path / "d.npz", X=X, y=y, W=X)
    (tmp_path / "d.txt").write_text("1 2 3\n")
    np.save(tmp_path / "short.npy", y[:3])
    argv = [a.format(tmp=tmp_path) for a in args]
    assert main([*argv, *FAST]) == 2
    assert message in capsys.readouterr().err


def test_estimator_options_cover_every_parameter():
    from acctsne._cli import _parser

    parser, names = _parser()
    assert set(names) == set(TSNE().get_params()) - {
        "callbacks",
        "callbacks_every_iters",
        "metric_params",
    }
    args = parser.parse_args(
        [
            "embed",
            "x.npy",
            "--progress-bar",
            "--angle",
            "0.3",
            "--init",
            "random",
            "--random-state",
            "none",
        ]
    )
    assert args.progress_bar is True and args.angle == 0.3 and args.init == "random"
    assert args.random_state is None


def test_config_and_demo(capsys):
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "simd in use:" in out and "threads" in out
    assert main(["--no-sklearn", "--n-jobs", "2"]) == 0  # no command: the demo
    out = capsys.readouterr().out
    assert "acctsne" in out and "exact KL" in out


def test_bench_subcommand_writes_results(tmp_path, capsys):
    out = tmp_path / "res"
    assert (
        main(
            [
                "bench",
                "--datasets",
                "blobs:400:5",
                "--libs",
                "acctsne",
                "--n-jobs",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    results = json.loads(out.with_suffix(".json").read_text())
    (row,) = results["rows"]
    assert row["library"] == "acctsne" and row["n"] == 400 and row["kl_exact"] > 0
    assert "| blobs:400:5 |" in out.with_suffix(".md").read_text()


def test_console_script_and_module_entry_point():
    # The script sits beside this interpreter (a virtualenv need not be activated).
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    exe = shutil.which("acctsne", path=search)
    assert exe is not None, "the acctsne console script is not installed"
    for cmd in ([exe, "config"], [sys.executable, "-m", "acctsne", "config"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        assert proc.stdout.startswith("acctsne:")
