"""acctsne: fast multi-core t-SNE, a drop-in replacement for sklearn.manifold.TSNE.

>>> from acctsne import TSNE          # instead of: from sklearn.manifold import TSNE
"""

from ._config import show_config
from ._core import __version__
from ._tsne import TSNE

__all__ = ["TSNE", "__version__", "show_config"]
