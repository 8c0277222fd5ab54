"""rnnse eval and rnnse dnsmos: the model, the peers and DNSMOS scored on the same clips, the
breakdowns per SNR / noise type / kind of speech, eval.json, and the unpaired mode on a folder."""
import json
import os

import numpy as np
import pytest
import soundfile as sf

from rnnse import dnsmos, evaluate, peers
from rnnse.cli import main
from rnnse.data.pairs import TestItem
from rnnse.metrics import all_metrics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_peers = pytest.mark.skipif(bool(peers.missing_peers(["rnnoise"])) or not dnsmos.available(),
                                 reason="pyrnnoise or speechmos not installed")


def demo(name):
    return sf.read(os.path.join(ROOT, "samples", f"demo_{name}.wav"), dtype="float32")[0]


@pytest.fixture(scope="module")
def items():
    """Four pairs cut from the demo clip, with the metadata the corpus writes."""
    clean, noisy = demo("clean"), demo("noisy")
    n = len(clean) // 2
    out = []
    for i, (a, b) in enumerate([(0, n), (n, 2 * n), (0, 2 * n), (n // 2, n // 2 + n)]):
        out.append(TestItem(f"clip{i}", noisy[a:b], clean[a:b], [2.5, 7.5][i % 2],
                            {"noise_type": ["babble", "hum"][i // 2], "speech": "running"}))
    return out


@needs_peers
def test_identity_model_scores_like_the_input_and_peers_like_themselves(items):
    res = evaluate.evaluate(lambda x: x, items, jobs=1, progress=False, peers=["rnnoise"])
    assert set(res["systems"]) == {"model", "rnnoise"}
    for r_noisy, r_model in zip(res["noisy_rows"], res["rows"]["model"]):
        assert r_noisy == r_model            # enhancing with the identity changes nothing
    # the peer's rows are what scoring its output directly gives
    y = peers.rnnoise(items[1].noisy)
    direct = all_metrics(items[1].clean, y)
    row = res["rows"]["rnnoise"][1]
    for k in ("pesq_wb", "stoi", "si_sdr"):
        assert row[k] == pytest.approx(direct[k], abs=1e-9)
    assert row["dnsmos_ovrl"] == pytest.approx(dnsmos.score(y)["ovrl"], abs=1e-9)
    # breakdowns: counts and means of the right items
    sys = res["systems"]["rnnoise"]
    assert {k: v["n"] for k, v in sys["per_noise"].items()} == {"babble": 2, "hum": 2}
    assert {k: v["n"] for k, v in sys["per_snr"].items()} == {"2.5": 2, "7.5": 2}
    assert sys["per_noise"]["hum"]["pesq_wb"] == pytest.approx(
        np.mean([res["rows"]["rnnoise"][i]["pesq_wb"] for i in (2, 3)]))
    assert sys["per_speech"]["running"]["n"] == 4
    table = evaluate.format_table("t", res, "fp32")
    assert "rnnoise" in table and "SNR 2.5 dB" in table and "babble" in table


@needs_peers
def test_eval_json_holds_the_model_and_the_peers(items, tmp_path):
    res = evaluate.evaluate(lambda x: 0.5 * x, items[:2], jobs=1, progress=False,
                            peers=["rnnoise"], use_dnsmos=False)
    path = tmp_path / "eval.json"
    evaluate.merge_eval_json(str(path), "speakers", res, "fp32", {"weight_bytes": 7})
    evaluate.merge_eval_json(str(path), "speakers", res, "mixed", {"weight_bytes": 5})
    data = json.loads(path.read_text())["speakers"]
    assert {"noisy", "fp32", "mixed", "rnnoise", "noisy_per_snr", "noisy_per_noise"} <= set(data)
    assert data["fp32"]["weight_bytes"] == 7 and data["mixed"]["weight_bytes"] == 5
    assert "dnsmos_ovrl" not in data["fp32"]
    # halving the signal leaves SI-SDR and STOI unchanged (scale-invariant)
    assert data["fp32"]["si_sdr"] == pytest.approx(data["noisy"]["si_sdr"], abs=1e-6)


def test_peer_names():
    assert evaluate.peer_names("auto", "fp32") == list(peers.PEERS)
    assert evaluate.peer_names("auto", "mixed") == []
    assert evaluate.peer_names("none", "fp32") == []
    assert evaluate.peer_names("rnnoise, noisereduce", "int8") == ["rnnoise", "noisereduce"]
    with pytest.raises(ValueError, match="unknown peer"):
        evaluate.peer_names("rnnoise,wiener", "fp32")


@needs_peers
def test_dnsmos_command_on_a_folder(tmp_path, capsys):
    folder = tmp_path / "rec"
    folder.mkdir()
    noisy = demo("noisy")
    sf.write(folder / "a.wav", noisy, 16000)
    # another rate and two channels: resampled and averaged, not refused
    from scipy.signal import resample_poly

    x48 = resample_poly(noisy[:24000], 3, 1)
    sf.write(folder / "b.wav", np.stack([x48, x48], axis=1), 48000)
    (folder / "notes.txt").write_text("not audio")
    out_json = tmp_path / "mos.json"
    assert main(["dnsmos", str(folder), "--peers", "rnnoise", "--jobs", "1", "--quiet",
                 "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "DNSMOS P.835 of 2 recordings" in text and "rnnoise" in text
    data = json.loads(out_json.read_text())
    assert data["files"] == ["a.wav", "b.wav"]
    assert data["per_file"]["noisy"][0] == pytest.approx(dnsmos.score(noisy))
    assert data["means"]["rnnoise"]["bak"] > data["means"]["noisy"]["bak"]


def test_dnsmos_command_errors(tmp_path, capsys):
    assert main(["dnsmos", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["dnsmos", str(tmp_path)]) == 2
    assert "holds no .wav, .flac or .ogg file" in capsys.readouterr().err
    sf.write(tmp_path / "a.wav", demo("noisy")[:8000], 16000)
    assert main(["dnsmos", str(tmp_path), "--peers", "wiener"]) == 2
    assert "unknown peer" in capsys.readouterr().err
