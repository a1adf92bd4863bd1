"""Library code draws randomness only from an explicit ``numpy.random.Generator``.

Scans every module of ``simtest/`` and ``perturbations/`` (parsed, not grepped, so
comments and strings do not count) for calls into NumPy's global random state
(``np.random.normal``, ``np.random.seed``, ...) and for any use of the standard
``random`` module. Constructing generators (``default_rng``, ``Generator``,
``SeedSequence``, bit generators) is what the rule asks for and is allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("simtest", "perturbations")
ALLOWED = {"default_rng", "Generator", "SeedSequence", "BitGenerator", "PCG64", "PCG64DXSM", "Philox", "SFC64",
           "MT19937"}


def _library_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _numpy_aliases(tree: ast.AST) -> set[str]:
    names = {"numpy"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name == "numpy"}
    return names


def violations(source: str, filename: str) -> list[str]:
    """Uses of global random state in ``source``, as 'file:line: what'."""
    tree = ast.parse(source, filename)
    numpy = _numpy_aliases(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"{filename}:{node.lineno}: import {a.name}"
                      for a in node.names if a.name.split(".")[0] == "random"]
        elif isinstance(node, ast.ImportFrom):
            if node.module and node.module.split(".")[0] == "random":
                found.append(f"{filename}:{node.lineno}: from {node.module} import ...")
            if node.module == "numpy.random":
                found += [f"{filename}:{node.lineno}: from numpy.random import {a.name}"
                          for a in node.names if a.name not in ALLOWED]
            if node.module == "numpy" and any(a.name == "random" for a in node.names):
                found.append(f"{filename}:{node.lineno}: from numpy import random")
        elif isinstance(node, ast.Attribute) and node.attr not in ALLOWED:
            owner = node.value
            if (isinstance(owner, ast.Attribute) and owner.attr == "random" and isinstance(owner.value, ast.Name)
                    and owner.value.id in numpy):
                found.append(f"{filename}:{node.lineno}: {owner.value.id}.random.{node.attr}")
    return found


@pytest.mark.parametrize("path", _library_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_global_random_state(path):
    assert violations(path.read_text(), str(path.relative_to(ROOT))) == []


@pytest.mark.parametrize("code", [
    "import numpy as np\nx = np.random.normal(0, 1)",
    "import numpy\nnumpy.random.seed(0)",
    "import random\nrandom.random()",
    "from random import choice",
    "from numpy.random import rand",
    "from numpy import random",
])
def test_the_scanner_catches_global_rng(code):
    assert violations(code, "example.py")


def test_the_scanner_allows_explicit_generators():
    code = "import numpy as np\ng = np.random.default_rng(0)\nh = np.random.Generator(np.random.PCG64(1))\n"
    assert violations(code, "example.py") == []
