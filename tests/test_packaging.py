"""Packaging: one version, and every package the code imports declared in pyproject.toml (the
runtime dependencies, or the extra of the feature that needs it) and pinned in requirements.txt."""
import ast
import importlib.metadata
import os
import re
import sys

import pytest

import rnnse

tomllib = pytest.importorskip("tomllib")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# import name -> distribution name, where they differ
DISTRIBUTION = {"serial": "pyserial", "sklearn": "scikit-learn", "yaml": "PyYAML"}


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", name.strip(), maxsplit=1)[0]).lower()


def _imports(folder: str) -> set:
    out = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(dirpath, f)) as fh:
                    tree = ast.parse(fh.read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        out |= {a.name.split(".")[0] for a in node.names}
                    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                        out.add(node.module.split(".")[0])
    local = {f[:-3] for f in os.listdir(os.path.join(ROOT, "tests")) if f.endswith(".py")}
    return out - set(sys.stdlib_module_names) - {"rnnse"} - local


def test_one_version():
    proj = _project()
    assert "version" not in proj and "version" in proj["dynamic"]
    assert importlib.metadata.version("rnnse") == rnnse.__version__


def test_every_import_is_declared():
    proj = _project()
    declared = {_norm(d) for d in proj["dependencies"]}
    for deps in proj["optional-dependencies"].values():
        declared |= {_norm(d) for d in deps if not d.startswith("rnnse")}
    used = {_norm(DISTRIBUTION.get(m, m)) for m in _imports("host") | _imports("tests")}
    assert used - declared == set()


def test_requirements_pin_what_is_declared():
    proj = _project()
    declared = {_norm(d) for d in proj["dependencies"]}
    for deps in proj["optional-dependencies"].values():
        declared |= {_norm(d) for d in deps if not d.startswith("rnnse")}
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        pins = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    assert all("==" in p for p in pins)
    assert {_norm(p) for p in pins} == declared
