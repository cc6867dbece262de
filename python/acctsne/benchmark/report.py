"""Results JSON -> markdown table and PNG plots (speed always beside quality)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def write_outputs(out, data, markdown_text):
    """Writes <out>.json (data) and <out>.md (markdown_text); returns the Path out."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(data, indent=1))
    out.with_suffix(".md").write_text(markdown_text)
    return out


def write_table(out, data, lines):
    """Writes <out>.json and the markdown lines as <out>.md, and prints the lines."""
    text = "\n".join(lines)
    write_outputs(out, data, text + "\n")
    print(text)


def _mb(value):
    return "n/a" if value is None else f"{value:.0f}"


def _kl(value):
    return "n/a" if value is None else f"{value:.4f}"


def format_row(row):
    acc = row.get("nn10_label_accuracy")
    return (
        f"{row['dataset']:<22} {row['library']:<13} {row['wall_s']:>9.2f}s "
        f"KL {_kl(row['kl_exact'])}  10-NN kept {row['nn10_preservation']:.3f}"
        + (f"  10-NN acc {acc:.3f}" if acc is not None else "")
        + f"  RSS {_mb(row['peak_rss_mb'])} MB"
    )


def markdown(results):
    m = results["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, n_jobs={m['n_jobs']}, acctsne SIMD "
        f"{m['acctsne_simd']}, load average at start {m['load_avg_at_start']}, {m['date']}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + ".",
        "",
        "Quality by one evaluator for every library: exact KL(P||Q) over all pairs with "
        "acctsne's perplexity-30 P; 10-NN preservation and 10-NN label accuracy on a "
        "5,000-point sample. Time: median wall seconds of the fit, in a fresh process.",
        "",
        "| dataset | n | d | library | wall s | speed-up vs acctsne | exact KL | 10-NN kept "
        "| 10-NN label acc | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ours = {r["dataset"]: r["wall_s"] for r in results["rows"] if r["library"] == "acctsne"}
    for r in results["rows"]:
        rel = r["wall_s"] / ours[r["dataset"]] if r["dataset"] in ours else float("nan")
        acc = r.get("nn10_label_accuracy")
        lines.append(
            f"| {r['dataset']} | {r['n']} | {r['d']} | {r['library']} | {r['wall_s']:.2f} | "
            f"{rel:.1f}x | {_kl(r['kl_exact'])} | {r['nn10_preservation']:.3f} | "
            f"{'' if acc is None else f'{acc:.3f}'} | {_mb(r['peak_rss_mb'])} |"
        )
    if results.get("notes"):
        lines += ["", *results["notes"]]
    if results.get("deviations"):
        lines += ["", "Deviations from the common settings:"]
        lines += [f"* {k}: {v}" for k, v in results["deviations"].items()]
    phases = [r for r in results["rows"] if r["library"] == "acctsne" and r["phases_s"]]
    if phases:
        keys = sorted({k for r in phases for k in r["phases_s"]})
        lines += [
            "",
            "acctsne per-phase seconds:",
            "",
            "| dataset | " + " | ".join(keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        for r in phases:
            lines.append(
                f"| {r['dataset']} | "
                + " | ".join(f"{r['phases_s'].get(k, 0.0):.2f}" for k in keys)
                + " |"
            )
    return "\n".join(lines) + "\n"


def plots(results, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plots")
        return
    rows = results["rows"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for lib in sorted({r["library"] for r in rows}):
        pts = sorted((r["n"], r["wall_s"]) for r in rows if r["library"] == lib)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=lib)
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on short ranges
    ax.set_xlabel("number of points")
    ax.set_ylabel("wall time of the fit (s)")
    ax.set_title(f"t-SNE fit time, {results['machine']['n_jobs']} threads")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(str(out) + "_time.png", dpi=120)
    plt.close(fig)

    phases = [r for r in rows if r["library"] == "acctsne" and r["phases_s"]]
    if phases:
        keys = sorted({k for r in phases for k, v in r["phases_s"].items() if v > 0.005})
        fig, ax = plt.subplots(figsize=(7, 4.5))
        bottom = [0.0] * len(phases)
        labels = [r["dataset"] for r in phases]
        for k in keys:
            vals = [r["phases_s"].get(k, 0.0) for r in phases]
            ax.bar(labels, vals, bottom=bottom, label=k)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_ylabel("seconds")
        ax.set_title("acctsne time per phase")
        ax.legend(fontsize=8)
        plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
        fig.tight_layout()
        fig.savefig(str(out) + "_phases.png", dpi=120)
        plt.close(fig)


if __name__ == "__main__":
    # python bench/report.py results/NAME.json : rewrites NAME.md and the plots.
    path = Path(sys.argv[1])
    res = json.loads(path.read_text())
    path.with_suffix(".md").write_text(markdown(res))
    plots(res, path.with_suffix(""))
    print(markdown(res))
