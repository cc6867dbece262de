"""Scatter plots of embeddings (needs matplotlib: ``pip install 'acctsne[plot]'``)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_embedding"]

# Class labels (integers, strings, ...) up to this many distinct values get a colour
# and a legend entry each; float labels, or more classes, a colour map and a colour bar.
_MAX_CLASSES = 60


def _class_colors(n_classes, plt):
    """n distinct colours: tab10, tab20, or tab20 + tab20b + tab20c (60)."""
    if n_classes <= 10:
        return [plt.get_cmap("tab10")(k) for k in range(n_classes)]
    if n_classes <= 20:
        return [plt.get_cmap("tab20")(k) for k in range(n_classes)]
    palette = [plt.get_cmap(name)(k) for name in ("tab20", "tab20b", "tab20c") for k in range(20)]
    return palette[:n_classes]


def _pyplot():
    # (Without a display, matplotlib itself falls back to its file-only Agg backend.)
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "plotting needs matplotlib: pip install matplotlib (or 'acctsne[plot]')"
        ) from exc
    return plt


def plot_embedding(
    embedding,
    labels=None,
    *,
    ax=None,
    title=None,
    point_size=None,
    alpha=0.8,
    legend=True,
):
    """Draw a 1-D or 2-D embedding as a scatter plot, coloured by labels.

    Parameters
    ----------
    embedding : array-like of shape (n_samples, 1) or (n_samples, 2)
        The embedding, e.g. ``TSNE().fit_transform(X)``. A 1-D embedding is drawn
        against a small random vertical jitter.
    labels : array-like of shape (n_samples,), default=None
        Class labels (integers, strings, ...: up to 60 classes get a colour and a
        legend entry each) or float values per point (a colour map and a colour bar).
    ax : matplotlib Axes, default=None
        Axes to draw into; a new 7 x 6 inch figure when None.
    title : str, default=None
        Axes title.
    point_size : float, default=None
        Marker area in points^2; by default it shrinks with the number of points.
    alpha : float, default=0.8
        Marker opacity.
    legend : bool, default=True
        Draw the legend (or colour bar) for the labels.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn into (``ax.figure.savefig("embedding.png")`` to save it).
    """
    plt = _pyplot()
    Y = np.asarray(embedding, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[1] not in (1, 2):
        raise ValueError(f"embedding must have shape (n_samples, 1 or 2), got {Y.shape}.")
    n = Y.shape[0]
    one_d = Y.shape[1] == 1
    if one_d:
        jitter = np.random.default_rng(0).uniform(-0.5, 0.5, size=(n, 1))
        Y = np.hstack([Y, jitter])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 6), layout="constrained")
    if point_size is None:
        point_size = float(np.clip(20_000 / max(n, 1), 0.5, 20.0))

    if labels is None:
        ax.scatter(Y[:, 0], Y[:, 1], s=point_size, alpha=alpha, linewidths=0, color="#1f77b4")
    else:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {labels.shape}.")
        classes = np.unique(labels)
        categorical = not np.issubdtype(labels.dtype, np.floating) or len(classes) <= 10
        if categorical and len(classes) <= _MAX_CLASSES:
            colors = _class_colors(len(classes), plt)
            for value, color in zip(classes, colors):
                mask = labels == value
                ax.scatter(
                    Y[mask, 0],
                    Y[mask, 1],
                    s=point_size,
                    alpha=alpha,
                    linewidths=0,
                    color=color,
                    label=str(value),
                )
            if legend:
                ax.legend(
                    title="label",
                    loc="upper left",
                    bbox_to_anchor=(1.01, 1.0),
                    ncols=1 if len(classes) <= 20 else 2,
                    markerscale=max(1.0, 6.0 / np.sqrt(point_size)),
                    frameon=False,
                    fontsize="small",
                    handletextpad=0.1,
                    columnspacing=0.8,
                )
        else:
            points = ax.scatter(Y[:, 0], Y[:, 1], c=labels, s=point_size, alpha=alpha, linewidths=0)
            if legend:
                ax.figure.colorbar(points, ax=ax, label="label")
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("(random jitter)" if one_d else "t-SNE 2")
    if not one_d:
        ax.set_aspect("equal", adjustable="datalim")
    if title:
        ax.set_title(title)
    return ax
