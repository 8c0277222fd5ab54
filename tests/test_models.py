"""The paper's networks: parameter counts, streaming equivalence, checkpoints."""
import os

import numpy as np
import pytest
import torch
from bad_models import bad_model_files, code_checkpoint, tiny_checkpoint

from rnnse.models import CheckpointError, ModelConfig, SEModel, load_checkpoint, save_checkpoint


def expected_params(cell, h=256, fc=256, bins=257, n_rnn=2):
    gates = 4 if cell == "lstm" else 3
    rnn = sum(gates * h * ((fc if i == 0 else h) + h) + 2 * gates * h for i in range(n_rnn))
    return (bins * fc + fc) + rnn + (h * fc + fc) + (fc * bins + bins)


def test_parameter_counts_match_the_paper():
    lstm, gru = SEModel(cell="lstm"), SEModel(cell="gru")
    assert lstm.num_parameters() == expected_params("lstm") == 1_250_561   # "about 1.25 M"
    assert gru.num_parameters() == expected_params("gru") == 987_393       # "about 0.99 M"
    small = SEModel(cell="gru", hidden=64, fc_in=64, fc_out=64, n_rnn=1)
    assert small.num_parameters() == expected_params("gru", 64, 64, n_rnn=1)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_frame_by_frame_equals_whole_utterance(cell):
    torch.manual_seed(0)
    m = SEModel(cell=cell, hidden=64, fc_in=48, fc_out=32).eval()
    x = torch.rand(2, 50, 257) * 5
    with torch.no_grad():
        whole, st_whole = m(x)
        state, outs = None, []
        for t in range(x.shape[1]):
            y, state = m(x[:, t:t + 1], state)
            outs.append(y)
    torch.testing.assert_close(torch.cat(outs, 1), whole, rtol=1e-5, atol=1e-6)
    flat = lambda s: torch.cat([torch.cat(list(v)) if isinstance(v, tuple) else v for v in s])  # noqa
    torch.testing.assert_close(flat(state), flat(st_whole), rtol=1e-5, atol=1e-6)
    assert float(whole.min()) >= 0 and float(whole.max()) <= 1


def test_checkpoint_round_trip(tmp_path):
    m = SEModel(cell="gru", hidden=32, fc_in=16, fc_out=16)
    save_checkpoint(tmp_path / "m.pt", m, note="x")
    m2, meta = load_checkpoint(tmp_path / "m.pt")
    assert meta == {"note": "x"} and m2.config == m.config
    x = torch.rand(1, 7, 257)
    torch.testing.assert_close(m2(x)[0], m.eval()(x)[0])


def test_bad_configs_and_files(tmp_path):
    with pytest.raises(ValueError, match="unknown cell"):
        ModelConfig(cell="rnn")
    with pytest.raises(ValueError, match="positive"):
        ModelConfig(hidden=0)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an rnnse checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    torch.save({"weights": np.zeros(3)}, tmp_path / "numpy.pt")  # objects other than tensors: not data
    with pytest.raises(ValueError, match="refused: the file asks to run or build numpy"):
        load_checkpoint(tmp_path / "numpy.pt")


def test_checkpoint_keeps_buffers_input_roots_and_meta(tmp_path):
    m = SEModel(ModelConfig(cell="lstm", hidden=16, fc_in=8, fc_out=8, input_roots=2))
    m.set_input_norm(torch.rand(40, 257))
    save_checkpoint(tmp_path / "m.pt", m, step=7, train_config={"lr": 1e-3, "seed": 0})
    m2, meta = load_checkpoint(tmp_path / "m.pt")
    assert m2.config.input_roots == 2 and meta == {"step": 7, "train_config": {"lr": 1e-3, "seed": 0}}
    torch.testing.assert_close(m2.in_offset, m.in_offset, rtol=0, atol=0)
    torch.testing.assert_close(m2.in_scale, m.in_scale, rtol=0, atol=0)


def test_a_checkpoint_that_runs_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = code_checkpoint(tmp_path, marker)
    with pytest.raises(CheckpointError, match="refused: the file asks to run or build posix.system"):
        load_checkpoint(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the file is a real attack: loading it as code runs it
    assert marker.exists()


def test_every_bad_model_file_is_a_one_line_checkpoint_error(tmp_path):
    for name, (path, words) in bad_model_files(tmp_path).items():
        if os.path.isdir(path):
            continue
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        msg = str(info.value)
        assert msg.startswith(f"{path}: ") and words in msg and "\n" not in msg, (name, msg)


def test_non_finite_weights_and_huge_configs_are_refused(tmp_path):
    ck = torch.load(tiny_checkpoint(tmp_path / "t.pt"), weights_only=True)
    ck["state_dict"]["fc_out.bias"][3] = float("nan")
    torch.save(ck, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="fc_out.bias holds non-finite values"):
        load_checkpoint(tmp_path / "nan.pt")
    ck = torch.load(tiny_checkpoint(tmp_path / "t.pt"), weights_only=True)
    ck["config"]["hidden"] = 10 ** 9
    torch.save(ck, tmp_path / "huge.pt")
    with pytest.raises(CheckpointError, match="is too large"):
        load_checkpoint(tmp_path / "huge.pt")
