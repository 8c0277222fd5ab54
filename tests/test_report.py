"""rnnse report: the target checks and the tables computed from eval.json / ablation.json."""
import json
import os

import pytest

from rnnse import report
from rnnse.cli import main


def _scores(pesq, stoi, sisdr, n=10, wb=None, per_snr=None):
    d = {"pesq_wb": pesq, "stoi": stoi, "si_sdr": sisdr, "n": n}
    if wb is not None:
        d["weight_bytes"] = wb
    if per_snr is not None:
        d["per_snr"] = per_snr
    return d


def _model(tmp_path, name, mixed_pesq=2.00, fp32_pesq=2.04, mixed_bytes=600_000):
    d = tmp_path / name
    d.mkdir()
    snr = lambda p: {"2.5": {"pesq_wb": p - 0.3, "stoi": 0.8, "si_sdr": 5.0, "n": 5},  # noqa: E731
                          "17.5": {"pesq_wb": p + 0.3, "stoi": 0.9, "si_sdr": 15.0, "n": 5}}
    entry = {"noisy": _scores(1.70, 0.850, 8.0), "noisy_per_snr": snr(1.70),
             "fp32": _scores(fp32_pesq, 0.860, 12.0, wb=4_000_000, per_snr=snr(fp32_pesq)),
             "fp16": _scores(fp32_pesq - 0.001, 0.860, 12.0, wb=1_000_000, per_snr=snr(fp32_pesq)),
             "mixed": _scores(mixed_pesq, 0.855, 11.5, wb=mixed_bytes, per_snr=snr(mixed_pesq))}
    (d / "eval.json").write_text(json.dumps({"synthetic": entry, "real": entry}))
    return str(d)


def test_checks_compute_drops_and_ratios(tmp_path):
    d = _model(tmp_path, "m1", mixed_pesq=2.00, fp32_pesq=2.04, mixed_bytes=600_000)
    got = {what: (ok, value) for what, ok, value in report.checks("m1", report.load_model_results(d))}
    assert got["m1 synthetic: FP32 raises PESQ-WB by >= 0.30"] == (True, "+0.340")
    assert got["m1 real: FP32 does not lower STOI"] == (True, "+0.0100")
    assert got["m1 synthetic: mixed loses <= 0.03 PESQ-WB"] == (False, "+0.040")
    assert got["m1: mixed weights <= 0.62x FP16"] == (True, "0.600x")
    # no mixed+ / int8+ results: no checks for them
    assert not any("mixed+" in k or "int8+" in k for k in got)


def test_checks_fail_when_targets_are_missed(tmp_path):
    d = _model(tmp_path, "m2", mixed_pesq=1.93, fp32_pesq=1.95, mixed_bytes=700_000)
    got = {what: (ok, value) for what, ok, value in report.checks("m2", report.load_model_results(d))}
    assert got["m2 real: FP32 raises PESQ-WB by >= 0.30"] == (False, "+0.250")
    assert got["m2 real: mixed loses <= 0.03 PESQ-WB"] == (True, "+0.020")
    assert got["m2: mixed weights <= 0.62x FP16"] == (False, "0.700x")


def _with_peers(d, running=(2.2, 0.93), rnnoise=(2.0, 0.90, 6.0, 2.9)):
    """Add a 'speakers' test set with RNNoise/DeepFilterNet3 entries to a model's eval.json."""
    path = os.path.join(d, "eval.json")
    data = json.loads(open(path).read())
    per = lambda p, s: {"running": _scores(p, s, 9.0, n=5), "letters": _scores(p - 0.2, s, 9.0, n=5)}  # noqa: E731
    e = {"noisy": {**_scores(1.5, 0.85, 5.0), "dnsmos_ovrl": 2.0},
         "noisy_per_speech": per(1.5, 0.85),
         "fp32": {**_scores(2.1, 0.91, 10.0), "dnsmos_ovrl": 3.0, "per_speech": per(*running)},
         "mixed": {**_scores(2.09, 0.905, 9.9), "dnsmos_ovrl": 2.95, "per_speech": per(*running)},
         "rnnoise": {**_scores(*rnnoise[:3]), "dnsmos_ovrl": rnnoise[3],
                     "per_speech": per(2.3, 0.92)},
         "deepfilternet3": {**_scores(2.6, 0.93, 11.0), "dnsmos_ovrl": 3.3,
                            "per_speech": per(2.8, 0.95)}}
    data["speakers"] = e
    open(path, "w").write(json.dumps(data))


def test_checks_against_rnnoise(tmp_path):
    d = _model(tmp_path, "m3")
    _with_peers(d)
    got = {what: (ok, value) for what, ok, value in report.checks("m3", report.load_model_results(d))}
    assert got["m3 speakers: fp32 beats RNNoise in PESQ-WB"] == (True, "2.100 vs 2.000 (+0.100)")
    assert got["m3 speakers: mixed beats RNNoise in SI-SDR"] == (True, "9.900 vs 6.000 (+3.900)")
    assert got["m3 speakers, running speech: fp32 beats RNNoise in PESQ-WB"] == \
        (False, "2.200 vs 2.300 (-0.100)")
    assert got["m3 speakers, running speech: mixed beats RNNoise in STOI"] == \
        (True, "0.930 vs 0.920 (+0.010)")
    assert got["m3 speakers: mixed DNSMOS OVRL >= RNNoise's"] == (True, "2.950 vs 2.900 (+0.050)")


def test_report_shows_the_peers(tmp_path):
    d = _model(tmp_path, "gru")
    _with_peers(d)
    out = tmp_path / "REPORT.md"
    assert main(["report", d, "-o", str(out)]) == 0
    text = out.read_text()
    assert "## Beside the peers" in text and "### speakers test set (10 clips)" in text
    assert "| gru fp32 | 2.100 | 0.910 | 10.00 | - | - | 3.00 |" in text
    assert "| RNNoise | 2.000 | 0.900 | 6.00 | - | - | 2.90 |" in text
    assert "| running | 5 | 1.50 / 0.850 | 2.20 / 0.930 | 2.20 / 0.930 | 2.30 / 0.920 | " \
        "2.80 / 0.950 |" in text


def test_report_file_tables(tmp_path):
    a = _model(tmp_path, "lstm", mixed_pesq=2.00)
    with open(os.path.join(a, "ablation.json"), "w") as f:
        json.dump([{"clips": {"real": 4}, "rows": [
            {"variant": "mixed", "dpesq_real": -0.031, "dpesq_all": -0.031, "dsisdr_all": -0.2,
             "snr32_db": 21.5, "weight_bytes": 600_000, "bytes_vs_fp16": 0.6}]}], f)
    out = tmp_path / "REPORT.md"
    assert main(["report", a, "-o", str(out)]) == 0
    text = out.read_text()
    # the mixed row of a test set: scores, drop against FP32, bytes and ratio against FP16, L2/MRAM fit
    assert "| mixed | 2.000 | +0.040 | 0.855 | +0.0050 | 11.50 | +0.50 | 586 KiB | 0.60x | yes | yes |" in text
    assert "| fp32 | 2.040 | - |" in text
    assert "| 2.5 | 1.400 | 1.740 | 1.740 | 1.700 | +0.340 |" in text     # per-SNR row
    assert "| `mixed` | -0.031 | -0.031 | -0.20 | 21.5 | 600,000 | 0.600 |" in text
    assert "| lstm: mixed weights <= 0.62x FP16 | 0.600x | pass |" in text


def test_missing_results_are_a_clear_error(tmp_path, capsys):
    d = tmp_path / "empty"
    d.mkdir()
    assert main(["report", str(d), "-o", str(tmp_path / "R.md")]) == 2
    assert "no evaluation results" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError):
        report.load_model_results(str(d))
