"""`rnnse export`: deterministic C output for every scheme that the host C compiler builds and
whose checksum the firmware's own rnnse_model_checksum() reproduces; refusals with clear messages
(memory budget, non-finite weights, wrong shapes, unknown schemes, bad per-element scales)."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from rnnse import export
from rnnse.export import ExportError
from rnnse.quant.qmodel import Layer, QuantizedModel

from test_kernels_misuse import small_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMES = ("fp16", "mixed", "mixed+", "int8", "int8+")

# a C program that links the exported model with the firmware's model.c and prints what it reads
CHECK_C = r"""
#include <stdio.h>
#include "rnnse_model.h"
extern const rnnse_model_t rnnse_model;
int main(void)
{
    const rnnse_model_t *m = &rnnse_model;
    unsigned long bytes = 0;
    unsigned i;
    for (i = 0; i < m->n_layers; i++) bytes += (unsigned long)m->layers[i].n_out * m->layers[i].rec_bytes;
    printf("%u %u %u %u %lu %s\n", m->version, m->n_layers, m->checksum, rnnse_model_checksum(m), bytes, m->scheme);
    return 0;
}
"""


@pytest.mark.parametrize("scheme", SCHEMES)
def test_export_is_deterministic_and_compiles(scheme, tmp_path):
    cc = os.environ.get("CC", "gcc")
    if not shutil.which(cc):
        pytest.skip(f"no C compiler {cc!r}")
    q = small_model("gru" if scheme.endswith("+") else "lstm", scheme)
    a = export.export(q, tmp_path / "a", name="tiny")
    b = export.export(q, tmp_path / "b", name="tiny")
    ca, cb = (tmp_path / d / "tiny.c" for d in "ab")
    assert ca.read_bytes() == cb.read_bytes() and a == b
    assert json.loads((tmp_path / "a" / "tiny.json").read_text()) == a
    assert a["weight_bytes"] == q.weight_bytes()
    main = tmp_path / "main.c"
    main.write_text(CHECK_C)
    exe = tmp_path / "check"
    kern = os.path.join(ROOT, "firmware", "kernels")
    subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-I", kern, str(ca), str(main),
                    os.path.join(kern, "model.c"), "-o", str(exe)], check=True, capture_output=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    version, n_layers, stored, computed, rec_bytes = map(int, out[:5])
    assert version == export.FORMAT_VERSION and n_layers == len(q.layers) and out[5] == scheme
    assert stored == computed == int(a["checksum"], 16)
    tables = 2 * 2 * export.TABLE_SIZE if scheme != "fp16" else 0
    assert rec_bytes + tables == a["weight_bytes"]


def test_budget_refusal_names_the_sizes(tmp_path):
    q = small_model("lstm", "mixed")
    need = q.weight_bytes()
    export.export(q, tmp_path, name="ok", l2_budget=need)
    with pytest.raises(ExportError) as e:
        export.export(q, tmp_path, name="big", l2_budget=need - 1)
    msg = str(e.value)
    assert f"needs {need} bytes" in msg and f"budget of {need - 1} bytes" in msg and "1 too many" in msg
    assert "rnn0" in msg and not (tmp_path / "big.c").exists()
    for bad in ("0", "-5", "lots", "nan"):
        with pytest.raises(ExportError, match="budget|byte count"):
            export.parse_bytes(bad)
    assert export.parse_bytes("1.5M") == 1536 * 1024 and export.parse_bytes("1536K") == 1536 * 1024


def _replace_layer(q, i, **arrays):
    layers = list(q.layers)
    layers[i] = dataclasses.replace(layers[i], arrays={**layers[i].arrays, **arrays})
    return QuantizedModel(q.scheme, q.config, layers, q.tables, q.info)


def test_bad_models_are_refused():
    q = small_model("lstm", "mixed")
    i_fc = next(i for i, L in enumerate(q.layers) if L.kind == "fc")
    w = np.array(q.layers[i_fc].arrays["w"], np.float16)
    w[0, 0] = np.nan
    with pytest.raises(ExportError, match="non-finite"):
        export.pack_model(_replace_layer(q, i_fc, w=w))
    with pytest.raises(ExportError, match="takes 256 inputs but the previous layer gives 257"):
        export.pack_model(_replace_layer(q, i_fc, w=q.layers[i_fc].arrays["w"][:, :-1]))
    with pytest.raises(ExportError, match="b has shape"):
        export.pack_model(_replace_layer(q, i_fc, b=q.layers[i_fc].arrays["b"][:-1]))
    with pytest.raises(ExportError, match="unknown scheme"):
        export.pack_model(QuantizedModel("int4", q.config, q.layers, q.tables, q.info))
    with pytest.raises(ExportError, match="model name"):
        export.pack_model(q, name="no spaces")
    bad_kind = list(q.layers)
    bad_kind[0] = Layer("conv", "c", "fp16", {}, {})
    with pytest.raises(ExportError, match="unknown kind"):
        export.pack_model(QuantizedModel(q.scheme, q.config, bad_kind, q.tables, q.info))


def test_per_element_quant_scales():
    """int8+ stores one FP32 input scale per bin as the quant step's 4-byte records."""
    q = small_model("gru", "int8+")
    inv = np.asarray(q.layers[0].arrays["inv_scale"])
    pm = export.pack_model(q)
    L = pm.layers[0]
    assert L.kind == export.KIND["quant"] and L.rec_bytes == 4 and L.scale == 0.0
    np.testing.assert_array_equal(np.frombuffer(L.records, "<f4"), inv)
    for bad, why in ((np.where(np.arange(len(inv)) == 3, 0.0, inv), "finite and positive"),
                     (np.where(np.arange(len(inv)) == 3, np.inf, inv), "non-finite"),
                     (-inv, "finite and positive"), (inv[:-1], "shape")):
        with pytest.raises(ExportError, match=why):
            export.pack_model(_replace_layer(q, 0, inv_scale=bad.astype(np.float32)))
    # scalar scales stay in the header, as in format version 1
    t = export.pack_model(small_model("gru", "int8")).layers[0]
    assert t.rec_bytes == 0 and t.records == b"" and t.scale > 0
