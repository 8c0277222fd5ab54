"""Lint: ruff with the project's configuration (pyproject.toml [tool.ruff]) finds nothing in host/
and tests/. The C side is held by the compilers: every target builds with -Wall -Wextra, the pulp
port with -Werror (tests/test_pulp_build.py)."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ruff():
    exe = os.path.join(os.path.dirname(sys.executable), "ruff")
    if not os.path.exists(exe):
        exe = shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff not installed (pip install -r requirements.txt)")
    r = subprocess.run([exe, "check", "--no-cache", "host", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
