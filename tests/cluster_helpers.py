"""Shared by the tests of the two ports on GVSoC's pulp-open cluster (test_pulp.py: the bare-metal
port; test_pmsis.py: the PMSIS port): the small random models, the inputs of one layer, the FP16
bound of docs/numerics.md, and the checks of layers and networks against the golden model."""
import numpy as np

from rnnse.audio import speech_like_pcm16

from stream_helpers import check_fp16_masks, golden_orders

U32 = 2.0 ** -24
OUT_BOUND = 0.5 + 1.0 / 16               # LSB, on-device chain vs StreamingChain with the same masks
speech_like = speech_like_pcm16


def magnitudes(pcm):
    from rnnse.stft import stft

    return np.abs(stft(pcm / 32768.0)).astype(np.float32)


def small_models(tmp_path_factory):
    """Random 48-unit LSTM and GRU models in the int8, mixed and fp16 schemes: {(cell, scheme): path}."""
    import torch

    from rnnse.models import SEModel
    from rnnse.quant import quantize

    mags = [magnitudes(speech_like(16000, s)) for s in range(2)]
    out = {}
    for cell in ("lstm", "gru"):
        torch.manual_seed(2)
        model = SEModel(cell=cell, hidden=48, fc_in=48, fc_out=48)
        d = tmp_path_factory.mktemp(f"pulp-{cell}")
        for scheme in ("int8", "mixed", "fp16") + (("int8+",) if cell == "gru" else ()):
            path = d / f"quant-{scheme}.npz"
            quantize(model, scheme, calib_mags=mags).save(path)
            out[cell, scheme] = str(path)
    return out


def layer_bytes(layer, x, h=None, c=None):
    out = np.ascontiguousarray(x).tobytes()
    if h is not None:
        out += np.ascontiguousarray(h).tobytes()
    if c is not None:
        out += np.ascontiguousarray(c).tobytes()
    return out


def layer_inputs(rng, q, i, layer):
    """Random inputs of layer i (the types the exported chain gives it)."""
    n_in = (layer.w if layer.kind == "fc" else layer.w_ih).shape[1]
    prev_int8 = i > 0 and (q.layers[i - 1].kind == "quant" or q.layers[i - 1].prec == "int8")
    if layer.prec == "int8":
        x = rng.integers(0 if prev_int8 and q.layers[i - 1].kind == "fc" else -128, 128, n_in).astype(np.int8)
    else:
        x = np.abs(rng.standard_normal(n_in)).astype(np.float16) if i > 0 else \
            (rng.standard_normal(n_in) * 2).astype(np.float16)
    if layer.kind == "fc":
        return x, None, None
    H = layer.w_hh.shape[1]
    if layer.prec == "int8":
        h = rng.integers(-128, 128, H).astype(np.int8)
        c = None
        if layer.kind == "lstm":
            lim = 128 if layer.c_bits == 8 else 32768
            c = rng.integers(-lim, lim, H).astype(np.int8 if layer.c_bits == 8 else np.int16)
    else:
        h = (rng.uniform(-1, 1, H)).astype(np.float16)
        c = (rng.standard_normal(H) * 2).astype(np.float16) if layer.kind == "lstm" else None
    return x, h, c


def fp16_bound(layer, x, h, ref):
    """The per-output bound of docs/numerics.md ("FP16 layers"), first order, for one step."""
    ulp16 = 2.0 ** (np.floor(np.log2(np.maximum(np.abs(ref.astype(np.float64)), 2.0 ** -14))) - 10)
    if layer.kind == "fc":
        w, b = layer.w.astype(np.float64), np.abs(layer.b.astype(np.float64))
        mag = b + np.abs(w) @ np.abs(x.astype(np.float64))
        return ulp16 + 2 * (w.shape[1] + 1) * U32 * mag + 1e-6
    K, H = layer.w_ih.shape[1], layer.w_hh.shape[1]
    mag = (np.abs(layer.b.astype(np.float64)) + np.abs(layer.w_ih.astype(np.float64)) @ np.abs(x.astype(np.float64))
           + np.abs(layer.w_hh.astype(np.float64)) @ np.abs(h.astype(np.float64)))
    e = 2 * (K + H + 1) * U32 * mag
    G_ = 4 if layer.kind == "lstm" else 3
    per_unit = e.reshape(G_, H).sum(axis=0)
    if layer.kind == "gru":
        per_unit = per_unit + 2 * (H + 1) * U32 * np.abs(layer.b_hn.astype(np.float64))
    return 2 * ulp16 + 2 * per_unit + 1e-6


def check_layers(q, layer_io, scheme):
    """Every fc/lstm/gru layer of q run alone on the chip (``layer_io(index, cases, cores, max_tile)``
    returns the batch program's output bytes) against the golden model: INT8 layers bit for bit,
    FP16 layers within the bound of docs/numerics.md, on 8 cores with one record per DMA tile and
    on 3 cores with two."""
    from rnnse.quant import golden

    rng = np.random.default_rng(7)
    for i, layer in enumerate(q.layers):
        if layer.kind not in ("fc", "lstm", "gru"):
            continue
        cases = [layer_inputs(rng, q, i, layer) for _ in range(3)]
        for cores, tile in ((8, 1), (3, 2)):
            out = layer_io(i, [layer_bytes(layer, *c) for c in cases], cores, tile)
            p = layer.params()
            pos = 0
            for x, h, c in cases:
                if layer.kind == "fc":
                    ref = (golden.fc_int8 if layer.prec == "int8" else golden.fc_fp16)(x, **p)
                    ref_c = None
                elif layer.kind == "lstm":
                    step = golden.lstm_int8_step if layer.prec == "int8" else golden.lstm_fp16_step
                    ref, ref_c = step(x, h, c, **p)
                else:
                    ref = (golden.gru_int8_step if layer.prec == "int8" else golden.gru_fp16_step)(x, h, **p)
                    ref_c = None
                ref = np.asarray(ref)
                got = np.frombuffer(out, ref.dtype, count=ref.size, offset=pos)
                pos += ref.nbytes
                got_c = None
                if ref_c is not None:
                    ref_c = np.asarray(ref_c)
                    got_c = np.frombuffer(out, ref_c.dtype, count=ref_c.size, offset=pos)
                    pos += ref_c.nbytes
                what = f"{scheme} layer {i} ({layer.kind} {layer.prec}) on {cores} cores"
                if layer.prec == "int8":
                    np.testing.assert_array_equal(got, ref, err_msg=what)
                    if ref_c is not None:
                        np.testing.assert_array_equal(got_c, ref_c, err_msg=what + " (cell state)")
                else:
                    d = np.abs(got.astype(np.float64) - ref.astype(np.float64))
                    bound = fp16_bound(layer, x, h, ref)
                    assert np.all(d <= bound), (what, d.max(), bound[np.argmax(d - bound)])
                    if ref_c is not None:
                        dc = np.abs(got_c.astype(np.float64) - ref_c.astype(np.float64))
                        assert np.all(dc <= 4 * bound + 2e-3 * np.abs(ref_c)), (what + " (cell)", dc.max())
            assert pos == len(out)


def check_masks(got, q, mags, exact, what):
    """INT8 networks bit-exact, FP16 and mixed ones within the tolerance of either golden order."""
    refs = (g.run(mags) for g in golden_orders(q))
    if exact:
        np.testing.assert_array_equal(got, next(refs), err_msg=what)
    else:
        check_fp16_masks(got, refs, what)
