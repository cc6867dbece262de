"""scikit-learn's own TSNE tests, run unchanged against acctsne.TSNE.

Every test function of the installed ``sklearn/manifold/tests/test_t_sne.py`` that
constructs ``TSNE(...)`` is re-bound so that the name ``TSNE`` resolves to
``acctsne.TSNE``; everything else (data, assertions, error regexes, sklearn's private
helpers) is sklearn's. This is the "code and tests written for sklearn's TSNE pass
unchanged" contract, checked against whatever sklearn version is installed.
"""

from __future__ import annotations

import inspect
import types

import pytest

import acctsne

sk_tests = pytest.importorskip("sklearn.manifold.tests.test_t_sne")


def _rebind(fn):
    scope = dict(fn.__globals__)
    scope["TSNE"] = acctsne.TSNE
    clone = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
    clone.__dict__.update(fn.__dict__)  # keeps pytest marks (parametrize, filters)
    clone.__doc__ = fn.__doc__
    return clone


PORTED = []
for _name, _fn in sorted(vars(sk_tests).items()):
    is_test = _name.startswith("test_") and inspect.isfunction(_fn)
    if is_test and "TSNE(" in inspect.getsource(_fn):
        globals()[_name] = _rebind(_fn)
        PORTED.append(_name)


def test_the_suite_was_found():
    # Guards against silently porting nothing if sklearn reorganises its tests.
    assert len(PORTED) >= 25, PORTED
