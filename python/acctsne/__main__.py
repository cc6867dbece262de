"""``python -m acctsne``: the ``acctsne`` command (see ``acctsne --help``)."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
