"""Run t-SNE implementations side by side; results go to bench/results/.

    python bench/run.py --datasets digits mnist:10000:pca50 --libs all --repeats 3

The same as ``acctsne bench`` (see ``acctsne.benchmark.run`` for every option), with
``../shared/data`` as the default ``ACCTSNE_DATA_DIR`` for the ``mnist`` datasets.
"""

from __future__ import annotations

from acctsne.benchmark.run import main

import _local

if __name__ == "__main__":
    raise SystemExit(
        main(prog="python bench/run.py", default_out=str(_local.RESULTS_DIR / "latest"))
    )
