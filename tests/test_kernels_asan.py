"""The kernel tests again, against the AddressSanitizer + UBSan build of the host library.

tests/test_kernels.py (every kernel on odd sizes and 1..8 cores against the golden model, both
SIMD libraries), test_kernels_simd.py (each x86 dot-product path) and test_kernels_misuse.py
(L1 budget too small, bad descriptors, bad core counts and pointers, whole networks on odd sizes)
run in a child pytest with libasan preloaded and RNNSE_NATIVE_ASAN=1, which makes rnnse.native
load build/host-asan/ instead of build/host/ (``scons asan=1``). An out-of-bounds access, a use
after free or undefined behaviour in the C code aborts the child, and this test fails with its
report. Skipped, saying why, only when the C compiler has no AddressSanitizer.
"""
import os
import shutil
import subprocess
import sys

import pytest

from rnnse import native

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = ("test_kernels.py", "test_kernels_simd.py", "test_kernels_misuse.py")


def _compiler_has_asan() -> str | None:
    """None when the C compiler builds and links with -fsanitize=address,undefined, else why not."""
    cc = os.environ.get("CC", "gcc")
    if not shutil.which(cc):
        return f"C compiler {cc!r} not found"
    r = subprocess.run([cc, "-fsanitize=address,undefined", "-x", "c", "-", "-o", os.devnull],
                       input="int main(void){return 0;}\n", text=True, capture_output=True)
    if r.returncode != 0:
        return f"{cc} cannot build with -fsanitize=address,undefined (libasan/libubsan missing?): " + \
            (r.stderr.strip().splitlines() or ["?"])[-1]
    return None


def test_kernel_tests_under_asan():
    why = _compiler_has_asan()
    if why:
        pytest.skip(why)
    try:
        env = native.asan_env()
    except native.NativeBuildError as exc:
        pytest.skip(str(exc))
    for variant in ("asan", "asan-portable"):
        native.build(variant)
    env["RNNSE_NATIVE_ASAN"] = "1"
    env.pop("RNNSE_NATIVE", None)
    env["ASAN_OPTIONS"] += ":detect_stack_use_after_return=1:check_initialization_order=1"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:faulthandler", "--capture=sys",
           "-x", *[os.path.join(HERE, m) for m in MODULES]]
    r = subprocess.run(cmd, cwd=native.REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    report = _sanitizer_report(out)
    assert r.returncode == 0 and not report, ("kernel tests under AddressSanitizer + UBSan failed:\n"
                                              + (report or out[-8000:]))
    assert " passed" in out, out[-4000:]


def _sanitizer_report(out: str) -> str:
    """The sanitizer's report in the child's output (with the test that was running), if any."""
    for mark in ("ERROR: AddressSanitizer", "runtime error:"):
        i = out.find(mark)
        if i >= 0:
            return out[max(0, i - 2000):i + 6000]
    return ""


def test_asan_child_really_loads_the_sanitized_library():
    """The switch the child relies on: RNNSE_NATIVE_ASAN=1 maps every variant to its asan build."""
    why = _compiler_has_asan()
    if why:
        pytest.skip(why)
    try:
        env = native.asan_env()
    except native.NativeBuildError as exc:
        pytest.skip(str(exc))
    env["RNNSE_NATIVE_ASAN"] = "1"
    code = ("from rnnse import native\n"
            "print(native.load().variant, native.load('default').variant, native.load('portable').variant)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=native.REPO_ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    assert r.stdout.split() == ["asan", "asan", "asan-portable"]
