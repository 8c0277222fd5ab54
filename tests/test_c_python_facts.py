"""C and Python hold the same facts: every constant the Python side names for itself equals the
firmware header's, and every member of the C enums the host speaks has its Python counterpart.

The cffi declarations are not checked here because there is no copy to drift: rnnse.native and
rnnse.stream.capi read them from the headers (rnnse.cheaders), and the host library checks the
struct layout it was built with at load time (Library._check_abi). A change on one side only
(a new layer kind in rnnse_model.h, a new message type in proto.h, a mailbox field) fails here.
"""
import cffi
import pytest

from rnnse import cheaders as C
from rnnse import export as E
from rnnse import native as N
from rnnse.stream import gvsoc as G
from rnnse.stream import protocol as P

MODEL_H = "firmware/kernels/rnnse_model.h"
PROTO_H = "firmware/app/proto.h"
APP_H = "firmware/app/app.h"
DSP_H = "firmware/dsp/dsp.h"
MAILBOX_H = "firmware/platform/pulp/mailbox.h"
BATCH_C = "firmware/targets/pulp/batch_pulp.c"
HOST_H = "firmware/platform/host/platform_host.h"


def test_model_format():
    c = C.constants(MODEL_H)
    assert (E.FORMAT_MAGIC, E.FORMAT_VERSION, E.MAX_LAYERS, E.TABLE_SIZE) == (
        c["RNNSE_FORMAT_MAGIC"], c["RNNSE_FORMAT_VERSION"], c["RNNSE_MAX_LAYERS"], c["RNNSE_TABLE_SIZE"])


def test_layer_kinds():
    kinds = C.enum_of(MODEL_H, "RNNSE_FC")
    assert {f"RNNSE_{k.upper()}": v for k, v in E.KIND.items()} == kinds
    assert {v: k for k, v in kinds.items()} == E.KIND_NAME
    assert (N.FC, N.LSTM, N.GRU, N.QUANT, N.DEQUANT) == tuple(kinds[f"RNNSE_{k}"] for k in
                                                             ("FC", "LSTM", "GRU", "QUANT", "DEQUANT"))


def test_element_types():
    types = C.enum_of(MODEL_H, "RNNSE_FP32")
    assert {v: k for k, v in types.items()} == {k: v for k, v in E.TYPE_NAME.items() if k}
    assert (E.FP32, E.FP16, E.INT8, E.INT16) == (N.FP32, N.FP16, N.INT8, N.INT16) == tuple(
        types[f"RNNSE_{t}"] for t in ("FP32", "FP16", "INT8", "INT16"))
    assert {k: v for k, v in E.PREC.items() if k} == {"fp16": types["RNNSE_FP16"], "int8": types["RNNSE_INT8"]}


def test_activations_and_tables():
    assert {f"RNNSE_ACT_{k.upper()}": v for k, v in E.ACT.items()} == C.enum_of(MODEL_H, "RNNSE_ACT_NONE")
    assert {f"RNNSE_TABLE_{k.upper()}": v for k, v in E.TABLE_MODE.items()} == C.enum_of(MODEL_H,
                                                                                          "RNNSE_TABLE_NEAREST")


def test_error_codes():
    c = C.constants(MODEL_H)
    errors = {v: k for k, v in c.items() if k == "RNNSE_OK" or k.startswith("RNNSE_ERR_")}
    assert N.ERRORS == errors
    assert N.DMA_POISON == C.constants(HOST_H)["PLAT_HOST_DMA_POISON"]


def test_protocol_constants():
    c = C.constants(DSP_H, PROTO_H)
    assert P.VERSION == c["PROTO_VERSION"]
    assert P.SYNC == bytes([c["PROTO_SYNC0"], c["PROTO_SYNC1"]])
    assert (P.HEADER_BYTES, P.TRAILER_BYTES, P.OVERHEAD, P.MAX_PAYLOAD, P.MAX_HOPS, P.SEQ_NONE, P.SEQ_MOD) == (
        c["PROTO_HEADER_BYTES"], c["PROTO_TRAILER_BYTES"], c["PROTO_OVERHEAD"], c["PROTO_MAX_PAYLOAD"],
        c["PROTO_MAX_HOPS"], c["PROTO_SEQ_NONE"], c["PROTO_SEQ_MOD"])
    assert (P.HOP, P.N_BINS) == (c["DSP_HOP"], c["DSP_NBINS"])
    assert P.FLAG_DEBUG == c["PROTO_FLAG_DEBUG"]
    assert P.ENHANCED_HEAD == c["PROTO_ENHANCED_HEAD"]


def test_protocol_enums():
    types = C.enum_of(PROTO_H, "PROTO_HELLO")
    assert {f"PROTO_{name}": t for t, name in P.TYPE_NAMES.items()} == types
    assert {getattr(P, n[len("PROTO_"):]): v for n, v in types.items()} == {v: v for v in types.values()}
    errors = C.enum_of(PROTO_H, "PROTO_E_CRC")
    assert {v for v in errors.values()} == set(P.ERROR_NAMES)
    assert {n: getattr(P, n[len("PROTO_"):]) for n in errors} == errors
    results = C.enum_of(PROTO_H, "PROTO_NEED_MORE")
    assert {n: getattr(P, n[len("PROTO_"):]) for n in results} == results
    counters = C.enum_of(APP_H, "APP_COUNTER_NS")
    assert {n[len("APP_COUNTER_"):].lower(): v for n, v in counters.items()} == {
        name: v for v, name in P.COUNTER_NAMES.items()}


def test_pulp_mailbox():
    c = C.constants(MAILBOX_H)
    assert (G.MB_MAGIC, G.MB_VERSION, G.MB_READ, G.MB_FLUSH) == (
        c["PULP_MB_MAGIC"], c["PULP_MB_VERSION"], c["PULP_MB_READ"], c["PULP_MB_FLUSH"])
    ffi = cffi.FFI()
    ffi.cdef(C.cdef([(MAILBOX_H, ["pulp_mailbox_t"])]))
    fields = {"magic": "MAGIC", "version": "VERSION", "in_cap": "IN_CAP", "out_cap": "OUT_CAP", "in_len": "IN_LEN",
              "out_len": "OUT_LEN", "reason": "REASON", "timeout_ms": "TIMEOUT", "closed": "CLOSED",
              "cores": "CORES", "stops": "STOPS"}
    assert {f: getattr(G, f"MB_OFF_{n}") for f, n in fields.items()} == {
        f: ffi.offsetof("pulp_mailbox_t", f) for f in fields}
    assert G.MB_HEADER == ffi.offsetof("pulp_mailbox_t", "in")


def test_pulp_batch_program():
    c = C.constants(BATCH_C)
    assert (G.BATCH_IN_MAGIC, G.BATCH_OUT_MAGIC, G.BATCH_VERSION) == (
        c["BATCH_IN_MAGIC"], c["BATCH_OUT_MAGIC"], c["BATCH_VERSION"])
    assert (G.BATCH_NET, G.BATCH_CHAIN, G.BATCH_LAYERS, G.BATCH_LAYER_IO) == (
        c["BATCH_NET"], c["BATCH_CHAIN"], c["BATCH_LAYERS"], c["BATCH_LAYER_IO"])
    assert (G.MAXPH, G.STAT_NET, G.STAT_TEAM, G.BATCH_STATS, G.BATCH_LAYER_FIELDS) == (
        c["MAXPH"], c["STAT_NET"], c["STAT_TEAM"], c["BATCH_STATS"], c["BATCH_LAYER_FIELDS"])
    variants = C.enum_of(BATCH_C, "VARIANT_STREAMED")
    assert {n[len("VARIANT_"):].lower(): v for n, v in variants.items()} == {
        name: i for i, name in enumerate(G.VARIANTS) if f"VARIANT_{name.upper()}" in variants}
    assert G.BATCH_ERRORS[c["BATCH_ERR_IO"]] and G.BATCH_ERRORS[c["BATCH_ERR_INPUT"]]


@pytest.mark.parametrize("module", [N, pytest.param("capi", id="capi")])
def test_cffi_declarations_parse(module):
    """The declarations read from the headers are complete C for cffi (every name found)."""
    if module == "capi":
        from rnnse.stream import capi as module
    ffi = cffi.FFI()
    ffi.cdef(module.cdef())
    opaque = getattr(module, "CDEF_OPAQUE", ())
    structs = [n for _, names in module.CDEF_SPEC for n in names if n.endswith("_t") and n not in opaque]
    assert structs and all(ffi.sizeof(n) > 0 for n in structs)


def test_reader_catches_a_missing_declaration(tmp_path):
    h = tmp_path / "x.h"
    h.write_text("#define N (2 * 4u)\nenum { A = 3, B, C = N + 1 };\n"
                 "typedef struct s { int v[N]; } s_t;\nstatic inline int f(int x) { return x; }\nint g(s_t *p);\n")
    assert C.constants(str(h)) == {"N": 8, "A": 3, "B": 4, "C": 9}
    assert C.cdef([(str(h), ["s_t", "g"])]) == "typedef struct s { int v[8]; } s_t;\nint g(s_t *p);\n"
    with pytest.raises(C.HeaderError, match="declares no f"):
        C.cdef([(str(h), ["f"])])
