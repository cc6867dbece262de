"""Embedding new points: acctsne's TSNE.transform beside openTSNE's, on MNIST.

    python bench/transform.py --n-jobs 2

The classic protocol: PCA-50 fitted on MNIST's 60,000 training images (both splits
projected with it); a t-SNE map of the training images (each library's defaults, with
n_jobs threads); then the 10,000 test images transformed into it (each library's
transform defaults). Measured for each library:

* fit and transform seconds (transform: the first call, which includes building the
  reference field / interpolation grid);
* 10-NN label accuracy of the transformed test points, with a classifier trained on the
  training embedding and its labels;
* neighbourhood preservation of the test points: the fraction of each test point's 10
  nearest training images (PCA-50 space) that are among its 10 nearest training points in
  the map (one evaluator, acctsne._evaluate);
* the exact KL of each training map under acctsne's P (one evaluator).

And the reference the targets are set against: one acctsne map of all 70,000 images,
where the test points' accuracy is measured the same way (classifier on the training
points of that map). Finally the bits: acctsne's transform with 1 and n_jobs threads, and
with the test set in two batches, must agree exactly. Writes bench/results/transform.json
and transform.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from acctsne import TSNE
from acctsne._affinities import affinities_from_data
from acctsne._evaluate import kl_divergence_exact, new_point_neighborhood_preservation
from acctsne.benchmark import libraries, report

import _local

N_TRAIN = 60_000
# Transform settings compared with the defaults ({}: openTSNE's, acctsne's defaults).
SWEEP = [
    {},
    {"perplexity": 2.0},
    {"perplexity": 10.0},
    {"perplexity": 30.0},
    {"perplexity": [2.0, 10.0]},
    {"max_iter": 0},
    {"max_iter": 100},
    {"max_iter": 500},
    {"exaggeration": 1.0},
    {"exaggeration": 3.0},
    {"learning_rate": 1.0},
    {"max_grad_norm": None},
    {"init": "weighted"},
]


def load_mnist():
    path = os.path.join(os.environ["ACCTSNE_DATA_DIR"], "mnist_70k.npz")
    data = np.load(path)
    X = data["X"].astype(np.float32)
    y = data["y"]
    pca = PCA(n_components=50, random_state=0).fit(X[:N_TRAIN])
    Z = pca.transform(X).astype(np.float32)
    return Z[:N_TRAIN], y[:N_TRAIN], Z[N_TRAIN:], y[N_TRAIN:]


def accuracy(Y_train, y_train, Y_test, y_test):
    clf = KNeighborsClassifier(n_neighbors=10).fit(Y_train, y_train)
    return float(clf.score(Y_test, y_test))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_acctsne(X_train, X_test, n_jobs):
    model, fit_s = timed(lambda: TSNE(random_state=0, n_jobs=n_jobs).fit(X_train))
    Y_test, transform_s = timed(lambda: model.transform(X_test))
    _, again_s = timed(lambda: model.transform(X_test))
    return model, np.asarray(model.embedding_), Y_test, fit_s, transform_s, again_s


def run_opentsne(X_train, X_test, n_jobs):
    from openTSNE import TSNE as OpenTSNE

    embedding, fit_s = timed(lambda: OpenTSNE(n_jobs=n_jobs, random_state=0).fit(X_train))
    Y_test, transform_s = timed(lambda: embedding.transform(X_test))
    return np.asarray(embedding), np.asarray(Y_test), fit_s, transform_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=str(_local.RESULTS_DIR / "transform"))
    args = parser.parse_args()
    n_jobs = args.n_jobs
    load_before = os.getloadavg()

    X_train, y_train, X_test, y_test = load_mnist()
    P_train = affinities_from_data(X_train, 30.0, n_jobs)
    rows = []

    model, Y_train, Y_test, fit_s, transform_s, again_s = run_acctsne(X_train, X_test, n_jobs)
    rows.append(
        {
            "library": "acctsne",
            "version": libraries.version("acctsne"),
            "fit_s": fit_s,
            "transform_s": transform_s,
            "transform_again_s": again_s,
            "accuracy": accuracy(Y_train, y_train, Y_test, y_test),
            "nn10_preservation": new_point_neighborhood_preservation(
                X_train, X_test, Y_train, Y_test
            ),
            "train_kl_exact": kl_divergence_exact(P_train, Y_train),
        }
    )
    print(rows[-1], flush=True)

    # The bits: one thread, and the test set in two batches.
    single = TSNE.transform(model.set_params(n_jobs=1), X_test)
    model.set_params(n_jobs=n_jobs)
    half = X_test.shape[0] // 3
    batches = np.concatenate([model.transform(X_test[:half]), model.transform(X_test[half:])])
    bitwise = {
        "n_jobs_1_equal": bool(np.array_equal(single, Y_test)),
        "two_batches_equal": bool(np.array_equal(batches, Y_test)),
    }
    print(bitwise, flush=True)

    # The defaults, by measurement: each parameter varied alone on the same model.
    sweep = []
    for params in SWEEP:
        Y_variant, seconds = timed(lambda params=params: model.transform(X_test, **params))
        sweep.append(
            {
                "params": params,
                "transform_s": seconds,
                "accuracy": accuracy(Y_train, y_train, Y_variant, y_test),
                "nn10_preservation": new_point_neighborhood_preservation(
                    X_train, X_test, Y_train, Y_variant
                ),
            }
        )
        print(sweep[-1], flush=True)

    maps = {"acctsne": (Y_train, Y_test)}
    if libraries.available("opentsne-fft"):
        O_train, O_test, o_fit_s, o_transform_s = run_opentsne(X_train, X_test, n_jobs)
        maps["openTSNE"] = (O_train, O_test)
        rows.append(
            {
                "library": "openTSNE",
                "version": libraries.version("opentsne-fft"),
                "fit_s": o_fit_s,
                "transform_s": o_transform_s,
                "transform_again_s": None,
                "accuracy": accuracy(O_train, y_train, O_test, y_test),
                "nn10_preservation": new_point_neighborhood_preservation(
                    X_train, X_test, O_train, O_test
                ),
                "train_kl_exact": kl_divergence_exact(P_train, O_train),
            }
        )
        print(rows[-1], flush=True)

    # The reference: test points placed by a joint embedding of all 70,000.
    X_all = np.concatenate([X_train, X_test])
    joint, joint_s = timed(lambda: TSNE(random_state=0, n_jobs=n_jobs).fit_transform(X_all))
    joint_accuracy = accuracy(joint[:N_TRAIN], y_train, joint[N_TRAIN:], y_test)

    ours = rows[0]
    targets = {
        "joint_fit_s": joint_s,
        "joint_accuracy": joint_accuracy,
        "accuracy_over_joint": ours["accuracy"] / joint_accuracy,
        "accuracy_over_joint_target": 0.97,
    }
    if len(rows) > 1:
        theirs = rows[1]
        targets["accuracy_minus_opentsne"] = ours["accuracy"] - theirs["accuracy"]
        targets["transform_speedup_vs_opentsne"] = theirs["transform_s"] / ours["transform_s"]
        targets["transform_speedup_target"] = 3.0
    data = {
        "machine": {
            "platform": platform.platform(),
            "cpus_used": n_jobs,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
        "protocol": "MNIST: PCA-50 fitted on the 60k training images; map of the training "
        "images with each library's defaults; the 10k test images transformed with each "
        "library's transform defaults",
        "rows": rows,
        "bitwise": bitwise,
        "transform_settings": sweep,
        "targets": targets,
    }
    lines = [
        f"# TSNE.transform on MNIST ({n_jobs} threads)",
        "",
        data["protocol"] + ".",
        "",
        "| library | fit s | transform s | again s | 10-NN accuracy | NN-10 preservation "
        "| train map KL |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        again = "" if r["transform_again_s"] is None else f"{r['transform_again_s']:.2f}"
        lines.append(
            f"| {r['library']} {r['version']} | {r['fit_s']:.1f} | {r['transform_s']:.2f} | "
            f"{again} | {r['accuracy']:.4f} | {r['nn10_preservation']:.4f} | "
            f"{r['train_kl_exact']:.4f} |"
        )
    lines += [
        "",
        f"Joint acctsne map of all 70,000 ({joint_s:.1f} s): test-point 10-NN accuracy "
        f"{joint_accuracy:.4f}; transform reaches {targets['accuracy_over_joint']:.4f} of it "
        "(target 0.97).",
    ]
    if len(rows) > 1:
        lines.append(
            f"Transform speed-up over openTSNE: {targets['transform_speedup_vs_opentsne']:.2f}x "
            f"(target 3x); accuracy difference {targets['accuracy_minus_opentsne']:+.4f} "
            "(target >= 0)."
        )
    lines.append(
        f"Bits: n_jobs=1 equal: {bitwise['n_jobs_1_equal']}; two batches equal: "
        f"{bitwise['two_batches_equal']}. Load average before/after: "
        f"{load_before[0]:.2f} / {data['machine']['loadavg_after'][0]:.2f}."
    )
    lines += [
        "",
        "Transform settings on the acctsne map (each varied alone; defaults first):",
        "",
        "| setting | transform s | 10-NN accuracy | NN-10 preservation |",
        "|---|---|---|---|",
    ]
    for r in sweep:
        name = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "defaults"
        lines.append(
            f"| {name} | {r['transform_s']:.2f} | {r['accuracy']:.4f} | "
            f"{r['nn10_preservation']:.4f} |"
        )
    report.write_table(args.out, data, lines)
    plot_maps(maps, y_test, rows, args.out + ".png")


def plot_maps(maps, y_test, rows, path):
    """Each library's training map (grey) with the transformed test points (by label)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(maps), figsize=(6 * len(maps), 6), squeeze=False)
    for ax, (name, (train, test)), row in zip(axes[0], maps.items(), rows):
        ax.scatter(train[:, 0], train[:, 1], s=0.2, c="0.85", rasterized=True)
        ax.scatter(test[:, 0], test[:, 1], s=1.0, c=y_test, cmap="tab10", rasterized=True)
        ax.set_title(
            f"{name}: 10k test images transformed in {row['transform_s']:.2f} s, "
            f"10-NN accuracy {row['accuracy']:.4f}",
            fontsize=9,
        )
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
