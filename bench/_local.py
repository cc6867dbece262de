"""Source-checkout defaults for the scripts in bench/ (not part of the package).

The benchmark itself lives in the package (``acctsne.benchmark``). In this repository the
real datasets are read from ``../shared/data`` unless ``ACCTSNE_DATA_DIR`` says otherwise,
and results go to ``bench/results/``.
"""

from __future__ import annotations

import os
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
os.environ.setdefault("ACCTSNE_DATA_DIR", str(BENCH_DIR.parents[1] / "shared" / "data"))
