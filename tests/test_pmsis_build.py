"""The PMSIS target's build and the one-line errors around it, with or without the SDK and GVSoC.

* ``scons target=pmsis`` (-Werror) against the pulp-sdk checkout when there is one: the
  application, the file mode, the batch program and the port test link with the SDK's runtime
  (cluster driver, readfs, hostfs) and the Xpulp dot products;
* without the SDK it stops with one line naming what is missing and how to get it; a model linked
  in (model=) is refused, since this target reads its model from flash;
* ``rnnse flash --board gap9`` without GAP_SDK_HOME says so in one line (the image is written);
  ``rnnse flash`` and ``rnnse enhance --target pmsis`` without the SDK name it.
"""
import os
import subprocess
import sys

import pytest

from rnnse.stream import pmsis as PM

from test_pulp_build import _sdotsp_count

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCONS = [os.path.join(os.path.dirname(sys.executable), "scons"), "-Q"]
MODEL = os.path.join(ROOT, "models", "gru256", "quant-int8.npz")


def _symbols(elf: str) -> set:
    out = subprocess.run(["riscv64-unknown-elf-nm", elf], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.mark.skipif(PM.sdk_unavailable() is not None, reason=str(PM.sdk_unavailable()))
def test_pmsis_build_links_the_runtime():
    elfs = PM.build()
    runtime = {"pi_cluster_open", "pi_cluster_send_task_to_cl", "pi_fs_mount", "pos_init_start"}
    app = _symbols(elfs["app"])
    assert {"main", "pmsis_port_open", "model_flash_load", "rnnse_net_step", "pulp_mailbox",
            "pulp_dsp_set_scratch", "rnnse_image_model"} <= app and runtime <= app
    assert {"rnnse_batch_main", "model_flash_load"} <= _symbols(elfs["batch"])
    assert {"main", "model_flash_load", "pi_hostfs_conf_init"} <= _symbols(elfs["wav"])
    assert _sdotsp_count(elfs["app"]) > 0 and _sdotsp_count(elfs["batch"]) > 0    # the Xpulp SIMD path


def _run(args, env_extra, cwd=ROOT):
    env = dict(os.environ, **env_extra)
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_missing_sdk_is_one_line(tmp_path):
    r = _run(SCONS + ["target=pmsis"], {"RNNSE_PULP_SDK": str(tmp_path / "none")})
    assert r.returncode == 2
    lines = [x for x in (r.stdout + r.stderr).splitlines() if "error" in x]
    assert lines == [f"scons: error: target=pmsis needs the pulp-sdk checkout (PMSIS runtime) at "
                     f"{tmp_path / 'none'}: run scripts/setup-pulp-sdk.sh, or set RNNSE_PULP_SDK to a pulp-sdk "
                     f"checkout"]
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "x.c").write_text("int x;\n")
    r = _run(SCONS + ["target=pmsis", f"model={tmp_path / 'm'}"], {})
    assert r.returncode == 2 and "reads the model from flash at boot" in r.stdout


def test_flash_commands_name_what_is_missing(tmp_path):
    if not os.path.exists(MODEL):
        pytest.skip(f"{MODEL} not in this checkout")
    rnnse = [sys.executable, "-m", "rnnse"]
    env = {"GAP_SDK_HOME": ""}
    r = _run(rnnse + ["flash", MODEL, "--board", "gap9", "-o", str(tmp_path / "img")], env)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()[-1]
    assert err.startswith("rnnse flash: error: --board gap9: GAP_SDK_HOME is not set") and \
        err.endswith(f"the image is written: {tmp_path / 'img' / 'rnnse_model.bin'}")
    assert os.path.getsize(tmp_path / "img" / "rnnse_model.bin") > 1_000_000
    r = _run(rnnse + ["flash", MODEL, "--board", "gap9", "-o", str(tmp_path / "img")],
             {"GAP_SDK_HOME": str(tmp_path)})
    assert r.returncode == 2 and f"GAP_SDK_HOME={tmp_path} holds no utils/cmake/setup.cmake: not a GAP9 SDK" in \
        r.stderr.strip().splitlines()[-1]
    none = {"RNNSE_PULP_SDK": str(tmp_path / "no-sdk")}
    r = _run(rnnse + ["flash", MODEL, "-o", str(tmp_path / "img")], none)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith(
        "rnnse flash: error: pulp-sdk (the PMSIS runtime) not found at $RNNSE_PULP_SDK=")
    wav = os.path.join(ROOT, "samples", "demo_noisy.wav")
    for target in ("pmsis", "pmsis-file"):
        r = _run(rnnse + ["enhance", wav, "-o", str(tmp_path / "y.wav"), "--target", target, "--model", MODEL,
                          "--no-progress"], none)
        assert r.returncode == 2
        assert "pulp-sdk (the PMSIS runtime) not found" in r.stderr.strip().splitlines()[-1], (target, r.stderr)


def test_pinned_sdk_commit_is_one():
    """The commit scripts/setup-pulp-sdk.sh checks out is the one rnnse and docs/board.md name."""
    import re

    with open(os.path.join(ROOT, "scripts", "setup-pulp-sdk.sh")) as f:
        pinned = re.search(r"^commit=([0-9a-f]{40})$", f.read(), re.M).group(1)
    with open(os.path.join(ROOT, "docs", "board.md")) as f:
        doc = f.read()
    assert pinned == PM.SDK_COMMIT and pinned in doc
