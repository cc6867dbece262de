"""What a fitted TSNE keeps as a model: the perplexity-list parameter, and the format of a
saved (pickled) model.

A fitted model holds, besides scikit-learn's attributes, the training data (for
``transform``: its nearest neighbours are searched among them) and the affinities P (for
``optimize``), unless fitted with ``keep_training_data=False``. A pickled model carries a
format number: a model saved in a format this version cannot read fails to load with a
clear error instead of misbehaving later.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MODEL_FORMAT",
    "PERPLEXITY_LIST_TYPES",
    "check_loadable",
    "max_perplexity",
]

# Version of the fitted state's layout; bump when attributes change meaning or type.
MODEL_FORMAT = 1


# A list of perplexities (multiscale affinities) besides scikit-learn's float: the types
# TSNE's constraints let through (their values are checked by
# acctsne._affinities.check_perplexity).
PERPLEXITY_LIST_TYPES = (list, tuple, np.ndarray)


def max_perplexity(perplexity):
    """The largest perplexity of a float or a list (it sets the neighbour count)."""
    return float(np.max(perplexity))


def check_loadable(state, version):
    """Raises a clear error for the state of a fitted model saved in another format.

    Parameters
    ----------
    state : dict
        The unpickled ``__dict__``.
    version : str
        This acctsne's version (for the message).
    """
    if "embedding_" not in state:
        return  # an unfitted estimator: only parameters
    saved = state.get("_acctsne_model_format")
    if saved != MODEL_FORMAT:
        saved_by = state.get("_acctsne_version", "an unknown version")
        raise ValueError(
            f"This TSNE model was saved by acctsne {saved_by} in model format {saved}; "
            f"acctsne {version} reads model format {MODEL_FORMAT}. Load it with the "
            "version that saved it, or fit the model again."
        )
