"""The package ships its typing: py.typed, and a stub of the extension that matches it."""

import ast
import re
from pathlib import Path

import acctsne
from acctsne import _core

PACKAGE = Path(acctsne.__file__).parent


def _stub_functions():
    tree = ast.parse((PACKAGE / "_core.pyi").read_text())
    return {
        node.name: [a.arg for a in node.args.args + node.args.kwonlyargs]
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def _stub_classes():
    tree = ast.parse((PACKAGE / "_core.pyi").read_text())
    return {node.name for node in tree.body if isinstance(node, ast.ClassDef)}


def test_py_typed_marker_is_installed():
    assert (PACKAGE / "py.typed").is_file()


def test_stub_lists_every_native_function_with_its_parameters():
    stub = _stub_functions()
    # Private test hooks (_kernel_*) too, not the module's dunders.
    native = {name for name in dir(_core) if not name.startswith("__")}
    assert set(stub) | _stub_classes() == native
    for name, params in stub.items():
        signature = getattr(_core, name).__doc__.split("\n", 1)[0]
        native_params = re.findall(r"[(,] ?(\w+):", signature)
        assert params == native_params, name
