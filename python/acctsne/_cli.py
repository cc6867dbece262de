"""The ``acctsne`` command (also ``python -m acctsne``).

acctsne                          embed sklearn's digits beside scikit-learn (the demo)
acctsne embed data.npz -o emb.npy --plot emb.png --perplexity 50
acctsne bench --datasets digits blobs:20000:50
acctsne config                   version, SIMD levels, threads
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]

_COMMANDS = ("demo", "embed", "bench", "config")
# Estimator parameters that have no command-line form (Python objects, or meaningless
# without them).
_NOT_ON_COMMAND_LINE = ("callbacks", "callbacks_every_iters", "metric_params")


# ------------------------------------------------------------------------- demo
def _demo_row(name, estimator, X, P):
    from ._evaluate import kl_divergence_exact, neighborhood_preservation

    t0 = time.perf_counter()
    Y = estimator.fit_transform(X)
    seconds = time.perf_counter() - t0
    return {
        "name": name,
        "seconds": seconds,
        "kl": kl_divergence_exact(P, Y),
        "nn10": neighborhood_preservation(X, Y, n_neighbors=10),
    }


def _demo(args) -> int:
    from sklearn.datasets import load_digits

    from . import TSNE, show_config
    from ._affinities import affinities_from_data
    from ._config import resolve_n_threads

    print(show_config())
    if args.config:
        return 0
    X = load_digits().data.astype(np.float64)
    n_threads = resolve_n_threads(args.n_jobs)
    # One P for judging every embedding: perplexity 30 on the exact kNN graph.
    P = affinities_from_data(X, 30.0, n_threads)

    common = dict(random_state=args.random_state, n_jobs=args.n_jobs)
    rows = [_demo_row("acctsne", TSNE(**common), X, P)]
    if not args.no_sklearn:
        from sklearn.manifold import TSNE as SklearnTSNE

        rows.append(_demo_row("scikit-learn", SklearnTSNE(**common), X, P))

    print(f"\nsklearn digits, {X.shape[0]} x {X.shape[1]}, {n_threads} threads")
    print(f"{'library':<14}{'seconds':>9}{'exact KL':>10}{'10-NN kept':>12}")
    for r in rows:
        print(f"{r['name']:<14}{r['seconds']:>9.2f}{r['kl']:>10.4f}{r['nn10']:>12.3f}")
    if len(rows) == 2:
        print(
            f"\nacctsne is {rows[1]['seconds'] / rows[0]['seconds']:.1f}x faster; "
            f"KL ratio acctsne/sklearn = {rows[0]['kl'] / rows[1]['kl']:.3f}"
        )
    return 0


def _add_demo_options(parser):
    parser.add_argument("--config", action="store_true", help="print the build and exit")
    parser.add_argument("--no-sklearn", action="store_true", help="skip sklearn's TSNE")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--random-state", type=int, default=0)


# ------------------------------------------------------------------------ embed
def _parse_value(text: str):
    """A command-line value as the estimator expects it: int, float, None or str."""
    lowered = text.lower()
    if lowered == "none":
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _add_estimator_options(parser):
    from ._tsne import TSNE

    group = parser.add_argument_group(
        "t-SNE parameters", "as acctsne.TSNE's (defaults: the estimator's own)"
    )
    names = []
    for name, param in inspect.signature(TSNE).parameters.items():
        if name in _NOT_ON_COMMAND_LINE:
            continue
        names.append(name)
        flag = "--" + name.replace("_", "-")
        if isinstance(param.default, bool):
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction)
        else:
            group.add_argument(
                flag,
                dest=name,
                type=_parse_value,
                metavar=type(param.default).__name__.upper()
                if param.default is not None
                else "VALUE",
                help=f"default: {param.default!r}",
            )
    return names


def _read_table(path: Path, label_column):
    """Columns of a .csv/.tsv/.parquet file -> (X, labels or None, label name)."""
    suffix = path.suffix.lower()
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if suffix == ".parquet":
        if pd is None:
            raise ImportError("reading .parquet needs pandas (and pyarrow): pip install pandas")
        frame = pd.read_parquet(path)
    elif pd is not None:
        frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    else:
        return _read_text_table(path, label_column, "\t" if suffix == ".tsv" else ",")
    labels = None
    if label_column is not None:
        column = label_column
        if column not in frame.columns and str(column).lstrip("-").isdigit():
            column = frame.columns[int(column)]
        if column not in frame.columns:
            raise ValueError(
                f"label column {label_column!r} not in {path.name}; columns: "
                f"{', '.join(map(str, frame.columns))}"
            )
        labels = frame[column].to_numpy()
        frame = frame.drop(columns=[column])
    non_numeric = [c for c in frame.columns if not np.issubdtype(frame[c].dtype, np.number)]
    if non_numeric:
        raise ValueError(
            f"non-numeric columns in {path.name}: {', '.join(map(str, non_numeric))}; "
            "name the label column with --label-column or drop them"
        )
    return frame.to_numpy(dtype=np.float64), labels


def _read_text_table(path: Path, label_column, delimiter):
    """numpy-only CSV reading (pandas not installed): numeric columns, optional header."""
    with open(path) as f:
        first = f.readline()
    header = None
    try:
        [float(v) for v in first.strip().split(delimiter)]
    except ValueError:
        header = [h.strip() for h in first.strip().split(delimiter)]
    data = np.loadtxt(path, delimiter=delimiter, skiprows=1 if header else 0, dtype=str, ndmin=2)
    labels = None
    if label_column is not None:
        if header and label_column in header:
            col = header.index(label_column)
        elif str(label_column).lstrip("-").isdigit():
            col = int(label_column)
        else:
            raise ValueError(f"label column {label_column!r} not in {path.name}")
        labels = data[:, col]
        data = np.delete(data, col, axis=1)
    return data.astype(np.float64), labels


def _read_input(args):
    """The input file -> (X, labels or None)."""
    path = Path(args.input)
    if not path.exists():
        raise FileNotFoundError(f"input file {path} does not exist")
    suffix = path.suffix.lower()
    labels = None
    if suffix == ".npy":
        X = np.load(path, allow_pickle=False)
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            keys = data.files
            if args.x_key in keys:
                X = data[args.x_key]
            elif len(keys) == 1:
                X = data[keys[0]]
            else:
                raise ValueError(
                    f"{path.name} has no array {args.x_key!r} (arrays: {', '.join(keys)}); "
                    "choose one with --x-key"
                )
            if args.y_key in keys:
                labels = data[args.y_key]
                names = data["label_names"] if "label_names" in keys else None
                if (
                    names is not None
                    and np.issubdtype(labels.dtype, np.integer)
                    and labels.size
                    and labels.min() >= 0
                    and labels.max() < len(names)
                ):
                    labels = names[labels]  # class indices -> their names
    elif suffix in (".csv", ".tsv", ".parquet"):
        X, labels = _read_table(path, args.label_column)
    else:
        raise ValueError(
            f"unsupported input format {suffix!r}: use .npy, .npz, .csv, .tsv or .parquet"
        )
    if args.labels is not None:
        labels = np.load(args.labels, allow_pickle=False)
    if labels is not None and len(labels) != len(X):
        raise ValueError(f"{len(labels)} labels for {len(X)} samples")
    return X, labels


def _write_output(path: Path, Y, labels):
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        np.save(path, Y)
    elif suffix == ".npz":
        arrays = {"embedding": Y}
        if labels is not None:
            arrays["y"] = labels
        np.savez(path, **arrays)
    elif suffix in (".csv", ".tsv"):
        delimiter = "\t" if suffix == ".tsv" else ","
        names = [f"tsne_{a + 1}" for a in range(Y.shape[1])]
        columns = [Y[:, a].astype(str) for a in range(Y.shape[1])]
        if labels is not None:
            names.append("label")
            columns.append(np.asarray(labels).astype(str))
        table = np.column_stack(columns)
        np.savetxt(
            path, table, fmt="%s", delimiter=delimiter, header=delimiter.join(names), comments=""
        )
    else:
        raise ValueError(f"unsupported output format {suffix!r}: use .npy, .npz, .csv or .tsv")


def _embed(args, param_names) -> int:
    from . import TSNE

    X, labels = _read_input(args)
    params = {name: getattr(args, name) for name in param_names if getattr(args, name) is not None}
    tsne = TSNE(**params)
    t0 = time.perf_counter()
    Y = tsne.fit_transform(X)
    seconds = time.perf_counter() - t0
    output = (
        Path(args.output)
        if args.output
        else Path(args.input).with_name(Path(args.input).stem + "_tsne.npy")
    )
    _write_output(output, Y, labels)
    print(
        f"embedded {X.shape[0]} x {X.shape[1]} from {args.input} in {seconds:.2f}s "
        f"(KL {tsne.kl_divergence_:.4f}, {tsne.n_iter_ + 1} iterations) -> {output}"
    )
    if args.plot:
        from .plot import plot_embedding

        title = args.title or f"{Path(args.input).name}: t-SNE of {X.shape[0]:,} points"
        ax = plot_embedding(Y, labels, title=title)
        ax.figure.savefig(args.plot, dpi=args.dpi)
        print(f"plot -> {args.plot}")
    return 0


# ------------------------------------------------------------------------- main
def _parser():
    parser = argparse.ArgumentParser(
        prog="acctsne",
        description="Fast multi-core t-SNE. Without a command: the digits demo.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    sub = parser.add_subparsers(dest="command", metavar="{demo,embed,bench,config}")
    demo = sub.add_parser("demo", help="embed sklearn's digits beside scikit-learn")
    _add_demo_options(demo)

    embed = sub.add_parser(
        "embed",
        help="embed a data file and write the embedding (and a plot)",
        description="Embed the rows of a .npy, .npz (array X, labels y, optional "
        "label_names), .csv/.tsv or .parquet file (pandas for parquet and named CSV columns).",
    )
    embed.add_argument("input", help="data file: .npy, .npz, .csv, .tsv or .parquet")
    embed.add_argument(
        "-o", "--output", help="embedding file: .npy (default INPUT_tsne.npy), .npz, .csv, .tsv"
    )
    embed.add_argument("--plot", metavar="PNG", help="also draw the embedding to this image")
    embed.add_argument("--title", help="title of the plot")
    embed.add_argument("--dpi", type=int, default=150, help="plot resolution (default 150)")
    embed.add_argument("--labels", metavar="NPY", help="labels for colouring, from a .npy file")
    embed.add_argument("--label-column", help="column (name or index) of a table with labels")
    embed.add_argument("--x-key", default="X", help="array of an .npz with the data (X)")
    embed.add_argument("--y-key", default="y", help="array of an .npz with labels (y)")
    param_names = _add_estimator_options(embed)

    sub.add_parser(
        "bench",
        help="run the side-by-side benchmark (acctsne bench --help for options)",
        add_help=False,
    )
    sub.add_parser("config", help="print version, SIMD levels and threads")
    return parser, param_names


def main(argv=None) -> int:
    """Entry point of the ``acctsne`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        from .benchmark.run import main as bench_main

        return bench_main(argv[1:], prog="acctsne bench")
    if not argv or (argv[0] not in _COMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["demo", *argv]  # `acctsne`, `acctsne --no-sklearn`: the demo
    parser, param_names = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "config":
            from . import show_config

            print(show_config())
            return 0
        if args.command == "embed":
            return _embed(args, param_names)
        return _demo(args)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        print(f"acctsne {args.command}: error: {exc}", file=sys.stderr)
        return 2
