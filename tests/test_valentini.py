"""The VoiceBank-DEMAND loader on small fake trees in the standard layout, and the one test-set
interface (``load_test_set``) on Valentini roots and corpus-style folders."""
import json
import os

import numpy as np
import pytest
import soundfile as sf

from rnnse.audio import AudioError
from rnnse.cli import UserError
from rnnse.data import valentini
from rnnse.data.pairs import load_test_set

SR48 = 48000
# (name, clean tone Hz, samples at 48 kHz, noise type, snr) as in log_testset.txt
TEST_ITEMS = [("p232_001", 300.0, 4800 * 3, "living", 2.5),
              ("p232_002", 500.0, 6000 * 3, "bus", 17.5),
              ("p257_001", 700.0, 3600 * 3, "cafe", 7.5)]
TRAIN_ITEMS = [("p226_001", 400.0, 4000 * 3, "kitchen", 0.0),
               ("p226_002", 600.0, 5000 * 3, "babble", 15.0)]


def clean_signal(f, n, sr):
    return (0.3 * np.sin(2 * np.pi * f * np.arange(n) / sr)).astype(np.float32)


def noise_signal(n, sr, seed):
    # band-limited to 6 kHz so that it survives 48 -> 16 kHz resampling unchanged
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    return sum(0.01 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (1100, 2300, 5900))


def make_tree(root, sr=SR48, with_logs=True):
    for split, items in (("test", TEST_ITEMS), ("train", TRAIN_ITEMS)):
        clean_dir, noisy_dir = (root / d for d in valentini.SPLITS[split])
        clean_dir.mkdir(parents=True)
        noisy_dir.mkdir(parents=True)
        for i, (name, f, n, _noise, _snr) in enumerate(items):
            c = clean_signal(f, n * sr // SR48, sr)
            sf.write(clean_dir / f"{name}.wav", c, sr, subtype="PCM_16")
            sf.write(noisy_dir / f"{name}.wav", c + noise_signal(len(c), sr, i), sr,
                     subtype="PCM_16")
    if with_logs:
        (root / "logfiles").mkdir()
        (root / "logfiles" / "log_testset.txt").write_text(
            "".join(f"{n} {nz} {s}\n" for n, _f, _l, nz, s in TEST_ITEMS) + "garbage line\n")
        (root / "logfiles" / "log_trainset_28spk.txt").write_text(
            "".join(f"{n} {nz} {s:g}\n" for n, _f, _l, nz, s in TRAIN_ITEMS))
    return root


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "vb")


def test_test_split_is_paired_resampled_and_labelled(tree, capsys):
    items = valentini.load_split(tree, "test")
    assert [it.name for it in items] == [n for n, *_ in sorted(TEST_ITEMS)]
    by_name = {n: (f, length, nz, s) for n, f, length, nz, s in TEST_ITEMS}
    for it in items:
        f, length, noise_type, snr = by_name[it.name]
        assert it.clean.dtype == np.float32 and it.noisy.dtype == np.float32
        assert it.clean.shape == it.noisy.shape == (length // 3,)
        # the same tone sampled at 16 kHz, away from the resampler's edge transients
        ref = clean_signal(f, length // 3, 16000)
        assert np.max(np.abs(it.clean[100:-100] - ref[100:-100])) < 2e-3
        # noisy - clean is the band-limited noise, resampled
        i = [n for n, *_ in TEST_ITEMS].index(it.name)
        ref_noise = noise_signal(length // 3, 16000, i)
        assert np.max(np.abs((it.noisy - it.clean)[100:-100] - ref_noise[100:-100])) < 2e-3
        assert it.snr_db == snr
        assert it.meta == {"source": "valentini", "split": "test", "noise_type": noise_type}
    assert "resampled VoiceBank-DEMAND test audio from 48000 Hz to 16000 Hz" in capsys.readouterr().err


def test_train_split_and_its_28spk_log(tree):
    items = valentini.load_split(tree, "train", note=False)
    assert [(it.name, it.snr_db, it.meta["noise_type"]) for it in items] == \
        [(n, s, nz) for n, _f, _l, nz, s in TRAIN_ITEMS]
    assert valentini.read_snr_log(tree, "test") == {n: (nz, s) for n, _f, _l, nz, s in TEST_ITEMS}


def test_int16_loading_for_training(tree):
    from rnnse.audio import to_pcm16
    from rnnse.data.mixing import PairedSegments

    f32 = valentini.load_split(tree, "train", note=False)
    i16 = valentini.load_split(tree, "train", note=False, dtype=np.int16)
    for a, b in zip(f32, i16):
        assert b.noisy.dtype == b.clean.dtype == np.int16
        assert np.array_equal(b.noisy, to_pcm16(a.noisy)) and np.array_equal(b.clean, to_pcm16(a.clean))
    noisy, clean = PairedSegments([(it.noisy, it.clean) for it in i16]).sample_batch(2, 800, 0)
    assert noisy.shape == (2, 800) and np.max(np.abs(clean)) > 0.1
    with pytest.raises(ValueError, match="dtype must be float32 or int16"):
        valentini.load_split(tree, "train", dtype=np.float64)


def test_logs_at_the_root_and_missing_logs(tmp_path):
    root = make_tree(tmp_path / "vb", with_logs=False)
    assert all(it.snr_db is None for it in valentini.load_split(root, "test", note=False))
    (root / "log_testset.txt").write_text("p232_002.wav bus 12.5\n")
    assert valentini.read_snr_log(root, "test") == {"p232_002": ("bus", 12.5)}


def test_16khz_copy_loads_without_resampling(tmp_path, capsys):
    root = make_tree(tmp_path / "vb16", sr=16000)
    items = valentini.load_split(root, "test", limit=2)
    assert len(items) == 2
    ref = clean_signal(300.0, 4800, 16000)
    np.testing.assert_allclose(items[0].clean, ref, atol=1.5 / 32768)  # 16-bit quantisation
    assert "resampled" not in capsys.readouterr().err


def test_missing_root_and_folders(tmp_path, tree):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        valentini.list_pairs(tmp_path / "nowhere")
    os.rename(tree / "noisy_testset_wav", tree / "noisy_moved")
    with pytest.raises(UserError, match=r"missing folder\(s\) noisy_testset_wav"):
        valentini.list_pairs(tree, "test")
    assert len(valentini.list_pairs(tree, "train")) == 2  # the other split is intact
    with pytest.raises(UserError, match="unknown Valentini split 'dev'"):
        valentini.list_pairs(tree, "dev")


def test_unpaired_and_empty_folders(tree, tmp_path):
    os.remove(tree / "noisy_testset_wav" / "p232_002.wav")
    os.remove(tree / "clean_testset_wav" / "p257_001.wav")
    with pytest.raises(UserError, match=r"unpaired files: p232_002 in clean_testset_wav/ but not in "
                                        r"noisy_testset_wav/; p257_001 in noisy_testset_wav/ but "
                                        r"not in clean_testset_wav/"):
        valentini.list_pairs(tree, "test")
    empty = tmp_path / "empty"
    (empty / "clean_testset_wav").mkdir(parents=True)
    (empty / "noisy_testset_wav").mkdir()
    with pytest.raises(UserError, match="contain no .wav files"):
        valentini.list_pairs(empty, "test")


def test_corrupt_stereo_empty_and_mismatched_files(tree):
    bad = tree / "noisy_testset_wav" / "p232_002.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(AudioError, match=r"p232_002\.wav: unreadable or corrupt"):
        valentini.load_split(tree, "test")
    bad.write_bytes(b"")
    with pytest.raises(AudioError, match=r"p232_002\.wav: empty file"):
        valentini.load_split(tree, "test")
    sf.write(bad, np.zeros((6000 * 3, 2)), SR48)
    with pytest.raises(AudioError, match=r"p232_002\.wav: has 2 channels"):
        valentini.load_split(tree, "test")
    sf.write(bad, np.zeros(6000 * 3 - 300), SR48)
    with pytest.raises(AudioError, match=r"p232_002: clean and noisy lengths differ \(6000 vs 5900"):
        valentini.load_split(tree, "test")


def test_load_test_set_on_a_valentini_root(tree):
    items = load_test_set(tree, limit=2)
    assert [it.name for it in items] == ["p232_001", "p232_002"]
    assert items[1].snr_db == 17.5
    with pytest.raises(UserError, match="limit must be positive"):
        load_test_set(tree, limit=0)


# -- corpus-style test folders -------------------------------------------------------------

def make_corpus_split(root, names, snrs):
    for sub in ("clean", "noisy"):
        (root / "test_real" / sub).mkdir(parents=True, exist_ok=True)
    entries = {}
    for i, (name, snr) in enumerate(zip(names, snrs)):
        c = clean_signal(200.0 + 100 * i, 8000, 16000)
        sf.write(root / "test_real" / "clean" / f"{name}.wav", c, 16000, subtype="PCM_16")
        sf.write(root / "test_real" / "noisy" / f"{name}.wav", c * 1.1, 16000, subtype="PCM_16")
        entries[name] = {"snr_db": snr, "noise_type": "hum"}
    (root / "manifest.json").write_text(json.dumps({"splits": {"test_real": entries}}))


def test_load_test_set_on_corpus_folders(tmp_path):
    make_corpus_split(tmp_path, ["b", "a"], [7.5, 2.5])
    items = load_test_set(tmp_path / "test_real")
    assert [(it.name, it.snr_db, it.meta["noise_type"]) for it in items] == \
        [("a", 2.5, "hum"), ("b", 7.5, "hum")]
    np.testing.assert_allclose(items[0].noisy, items[0].clean * 1.1, atol=2 / 32768)
    # the short names resolve inside a corpus folder
    assert [it.name for it in load_test_set("real", corpus=str(tmp_path))] == ["a", "b"]
    with pytest.raises(UserError, match="is a whole corpus; name one of its test sets"):
        load_test_set(tmp_path)


def test_load_test_set_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such test set \(build the corpus with "
                                                 r"`rnnse data build`\)"):
        load_test_set("synthetic", corpus=str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match="no such test set"):
        load_test_set(tmp_path / "missing")
    (tmp_path / "f.wav").write_bytes(b"x")
    with pytest.raises(UserError, match="a test set is a folder, not a file"):
        load_test_set(tmp_path / "f.wav")
    (tmp_path / "other").mkdir()
    with pytest.raises(UserError, match="not a test set"):
        load_test_set(tmp_path / "other")
    make_corpus_split(tmp_path / "c", ["a", "b"], [2.5, 7.5])
    os.remove(tmp_path / "c" / "test_real" / "noisy" / "b.wav")
    with pytest.raises(UserError, match="unpaired files: b"):
        load_test_set(tmp_path / "c" / "test_real")
    sf.write(tmp_path / "c" / "test_real" / "noisy" / "b.wav", np.zeros(100), 16000)
    with pytest.raises(AudioError, match="b: clean and noisy lengths differ"):
        load_test_set(tmp_path / "c" / "test_real")
