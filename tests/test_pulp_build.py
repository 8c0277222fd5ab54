"""The pulp-open port compiled in every test run, GVSoC or not, and how rnnse finds GVSoC.

* ``scons target=pulp`` (built with ``-Werror``: firmware/targets/pulp/SConscript) for the
  passthrough application, the port's test program and every shipped quantized model, whenever the
  RISC-V toolchain is present (scripts/setup.sh installs it): the Xpulp SIMD path, the platform
  layer and the cluster signal chain cannot gather warnings or stop compiling unseen. The models
  that fit pulp-open's L2 link; the `fp16` ones (2.0-2.5 MB of weights) must fail with the L2
  overflow that docs/gvsoc.md describes.
* rnnse.stream.gvsoc's search for the launcher (RNNSE_GVSOC, then the wrapper of
  scripts/setup-gvsoc.sh in its cache folder, then PATH), its one-line errors for a launcher run
  without GVSoC's Python packages and for a RNNSE_GVSOC_SRC that is not a git checkout.
"""
import glob
import os
import shutil
import subprocess

import pytest

from rnnse.stream import gvsoc as G
from rnnse.stream.build import BuildError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = sorted(glob.glob(os.path.join(ROOT, "models", "*", "quant-*.npz")))

toolchain = pytest.mark.skipif(shutil.which("riscv64-unknown-elf-gcc") is None,
                               reason="riscv64-unknown-elf-gcc not installed (bash scripts/setup.sh installs it)")


def _symbols(elf: str) -> set:
    out = subprocess.run([G.NM, elf], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def _sdotsp_count(elf: str) -> int:
    """Number of Xpulp pv.sdotsp.b instructions (opcode 0x57, funct3 1, funct7 0x5C) in the code."""
    out = subprocess.run([G.NM.replace("-nm", "-objdump"), "-d", elf], capture_output=True, text=True,
                         check=True).stdout
    n = 0
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and len(parts[1].strip()) == 8:
            w = int(parts[1].strip(), 16)
            n += (w & 0x7F) == 0x57 and (w >> 12) & 7 == 1 and w >> 25 == 0x5C
    return n


@toolchain
def test_passthrough_and_platform_test_build():
    elfs = G.build(None)
    app = _symbols(elfs["app"])
    assert {"main", "pulp_cluster_start", "pulp_mailbox", "dsp_analyze", "dsp_synthesize"} <= app
    assert "pulp_dsp_set_scratch" in app                 # the cluster's signal chain, not the portable one
    assert _sdotsp_count(elfs["platform_test"]) > 0      # the Xpulp dot products under test


@toolchain
@pytest.mark.parametrize("qpath", SHIPPED, ids=[os.path.relpath(p, os.path.join(ROOT, "models")) for p in SHIPPED])
def test_shipped_model_builds(qpath):
    from rnnse.quant.qmodel import QuantizedModel

    if QuantizedModel.load(qpath).scheme == "fp16":
        with pytest.raises(BuildError, match="overflowed|overlaps"):
            G.build(qpath)
        return
    elfs = G.build(qpath)
    for key in ("app", "batch"):
        assert {"main", "rnnse_net_init", "rnnse_net_step"} <= _symbols(elfs[key]), key
        assert _sdotsp_count(elfs[key]) > 0, key         # INT8 recurrent layers on the Xpulp path


# ---- finding GVSoC ------------------------------------------------------------------------------

def _launcher(path, text: str, status: int = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{text}\nexit {status}\n")
    path.chmod(0o755)
    return str(path)


def test_find_order(tmp_path, monkeypatch):
    monkeypatch.delenv(G.ENV_VAR, raising=False)
    monkeypatch.delenv(G.HOME_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "path") + os.pathsep + os.environ["PATH"])
    on_path = _launcher(tmp_path / "path" / "gvsoc", "true")
    assert G.home() == str(tmp_path / "cache" / "rnnse" / "gvsoc")
    assert G.find() == on_path                                   # nothing set up: PATH
    wrapper = _launcher(tmp_path / "cache" / "rnnse" / "gvsoc" / "bin" / "gvsoc", "true")
    assert G.find() == wrapper                                   # setup-gvsoc.sh's wrapper, no export
    monkeypatch.setenv(G.HOME_ENV_VAR, str(tmp_path / "elsewhere"))
    assert G.find() == on_path                                   # RNNSE_GVSOC_HOME moves the cache
    other = _launcher(tmp_path / "mine" / "gvsoc", "true")
    monkeypatch.setenv(G.ENV_VAR, other)
    assert G.find() == other                                     # RNNSE_GVSOC overrides everything
    monkeypatch.setenv(G.ENV_VAR, str(tmp_path / "missing"))
    assert G.find() is None
    assert "is not an executable GVSoC launcher" in G.unavailable()


def test_bare_launcher_says_why(tmp_path, monkeypatch):
    """GVSoC's own launcher outside its virtual environment fails in Python; rnnse says what is
    wrong in one line instead of passing GVSoC's traceback on."""
    bare = _launcher(tmp_path / "install" / "bin" / "gvsoc",
                     "echo 'Traceback (most recent call last):' >&2\n"
                     "echo \"ModuleNotFoundError: No module named 'prettytable'\" >&2", status=1)
    monkeypatch.setenv(G.ENV_VAR, bare)
    elf = tmp_path / "x.elf"
    elf.write_bytes(b"\x7fELF")
    work = tmp_path / "work"
    work.mkdir()
    if shutil.which(G.NM) is None:
        pytest.skip(f"{G.NM} not installed")
    with pytest.raises(G.GvsocError) as err:
        G.prepare(str(elf), str(work))
    msg = str(err.value)
    assert "\n" not in msg and "Traceback" not in msg
    assert "without GVSoC's Python packages" in msg and "'prettytable'" in msg and "setup-gvsoc.sh" in msg


def test_gvsoc_commits(tmp_path, monkeypatch):
    monkeypatch.setenv(G.SRC_ENV_VAR, str(tmp_path))             # a folder, not a checkout
    with pytest.raises(G.GvsocError, match="not a git checkout"):
        G.gvsoc_commits()
    # the layout of setup-gvsoc.sh: src/ (a checkout) beside bin/gvsoc
    home = tmp_path / "home"
    src = home / "src"
    src.mkdir(parents=True)
    git = ["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run(git[:3] + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    monkeypatch.delenv(G.SRC_ENV_VAR)
    monkeypatch.delenv(G.ENV_VAR, raising=False)
    monkeypatch.setenv(G.HOME_ENV_VAR, str(home))
    _launcher(home / "bin" / "gvsoc", "true")
    assert G.gvsoc_commits() == {"gvsoc": head}
    monkeypatch.setenv(G.SRC_ENV_VAR, str(src))
    assert G.gvsoc_commits() == {"gvsoc": head}
