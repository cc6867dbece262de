"""Side-by-side benchmark of acctsne and the t-SNE libraries installed beside it.

Run it as ``acctsne bench`` (or ``python bench/run.py`` in a source checkout); see
:mod:`acctsne.benchmark.run`. Peers are optional: ``pip install 'acctsne[bench]'``.
"""
