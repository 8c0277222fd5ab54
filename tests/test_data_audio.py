"""load_wav on bad and unusual inputs: each refused with a message that names the problem, or
converted exactly as asked (resampling, channel averaging)."""
import numpy as np
import pytest
import soundfile as sf

from rnnse.audio import AudioError, load_wav
from rnnse.config import SAMPLE_RATE, WIN_LENGTH


def tone(n, sr, f=1000.0, amp=0.5):
    return (amp * np.sin(2 * np.pi * f * np.arange(n) / sr)).astype(np.float32)


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(AudioError, match=r"nope\.wav: no such file"):
        load_wav(tmp_path / "nope.wav")
    (tmp_path / "d.wav").mkdir()
    with pytest.raises(AudioError, match=r"d\.wav: is a directory"):
        load_wav(tmp_path / "d.wav")


def test_empty_corrupt_and_truncated_files(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav: empty file"):
        load_wav(tmp_path / "empty.wav")
    rng = np.random.default_rng(0)
    (tmp_path / "noise.wav").write_bytes(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError, match=r"noise\.wav: unreadable or corrupt audio file"):
        load_wav(tmp_path / "noise.wav")
    # a real wav cut inside its header
    sf.write(tmp_path / "ok.wav", tone(1600, SAMPLE_RATE), SAMPLE_RATE, subtype="PCM_16")
    (tmp_path / "cut.wav").write_bytes((tmp_path / "ok.wav").read_bytes()[:30])
    with pytest.raises(AudioError, match=r"cut\.wav: unreadable or corrupt"):
        load_wav(tmp_path / "cut.wav")
    # a valid header announcing no frames
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), SAMPLE_RATE, subtype="PCM_16")
    with pytest.raises(AudioError, match=r"zero\.wav: contains no samples"):
        load_wav(tmp_path / "zero.wav")


def test_unreadable_file_reports_the_os_error(tmp_path, monkeypatch):
    sf.write(tmp_path / "locked.wav", tone(1600, SAMPLE_RATE), SAMPLE_RATE)

    def denied(*_a, **_k):  # as soundfile fails on a file without read permission
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sf, "read", denied)
    with pytest.raises(AudioError, match=r"locked\.wav: unreadable .*Permission denied"):
        load_wav(tmp_path / "locked.wav")


def test_sample_rate_refused_or_resampled(tmp_path):
    x48 = tone(48000, 48000, f=1000.0)
    sf.write(tmp_path / "r48.wav", x48, 48000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"sample rate is 48000 Hz, expected 16000 Hz "
                                         r"\(pass --resample"):
        load_wav(tmp_path / "r48.wav")
    y = load_wav(tmp_path / "r48.wav", resample_ok=True)
    assert y.dtype == np.float32 and y.shape == (16000,)
    # away from the filter's edge transients the result is the same tone sampled at 16 kHz
    ref = tone(16000, SAMPLE_RATE, f=1000.0)
    assert np.max(np.abs(y[200:-200] - ref[200:-200])) < 2e-3
    # 8 kHz up to 16 kHz: a 500 Hz tone survives, nothing appears above 4 kHz
    sf.write(tmp_path / "r8.wav", tone(8000, 8000, f=500.0), 8000, subtype="FLOAT")
    y = load_wav(tmp_path / "r8.wav", resample_ok=True)
    assert y.shape == (16000,)
    assert np.max(np.abs(y[200:-200] - tone(16000, SAMPLE_RATE, f=500.0)[200:-200])) < 2e-3


def test_stereo_refused_or_averaged(tmp_path):
    left, right = tone(1600, SAMPLE_RATE, 300.0, 0.4), tone(1600, SAMPLE_RATE, 700.0, 0.2)
    sf.write(tmp_path / "st.wav", np.stack([left, right], axis=1), SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"st\.wav: has 2 channels; rnnse needs mono"):
        load_wav(tmp_path / "st.wav")
    y = load_wav(tmp_path / "st.wav", mono_ok=True)
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-7)


def test_nan_and_inf_refused(tmp_path):
    x = tone(1600, SAMPLE_RATE)
    x[700] = np.nan
    sf.write(tmp_path / "nan.wav", x, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav: contains NaN or infinite samples"):
        load_wav(tmp_path / "nan.wav")
    x[700] = np.inf
    sf.write(tmp_path / "inf.wav", x, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite"):
        load_wav(tmp_path / "inf.wav")


def test_shorter_than_one_window(tmp_path):
    sf.write(tmp_path / "short.wav", tone(WIN_LENGTH - 1, SAMPLE_RATE), SAMPLE_RATE)
    with pytest.raises(AudioError, match=rf"{WIN_LENGTH - 1} samples is shorter than one analysis "
                                         rf"window \({WIN_LENGTH} samples = 25.0 ms\)"):
        load_wav(tmp_path / "short.wav")
    sf.write(tmp_path / "one.wav", tone(WIN_LENGTH, SAMPLE_RATE), SAMPLE_RATE)
    assert load_wav(tmp_path / "one.wav").shape == (WIN_LENGTH,)
    # the length counts after resampling: 1197 samples at 48 kHz are 399 at 16 kHz
    sf.write(tmp_path / "short48.wav", tone(3 * (WIN_LENGTH - 1), 48000), 48000)
    with pytest.raises(AudioError, match="shorter than one analysis window"):
        load_wav(tmp_path / "short48.wav", resample_ok=True)


@pytest.mark.parametrize("subtype,tol", [("PCM_16", 1 / 32768), ("PCM_24", 1 / 2 ** 23),
                                         ("PCM_U8", 1 / 128), ("FLOAT", 0.0)])
def test_sample_formats_scale_to_unit_range(tmp_path, subtype, tol):
    x = tone(1600, SAMPLE_RATE, amp=0.75)
    sf.write(tmp_path / "f.wav", x, SAMPLE_RATE, subtype=subtype)
    y = load_wav(tmp_path / "f.wav")
    assert y.dtype == np.float32
    assert np.max(np.abs(y - x)) <= tol


def test_float_samples_outside_unit_range_are_refused_with_a_count(tmp_path):
    x = tone(1600, SAMPLE_RATE, amp=0.5)
    x[[10, 20, 30]] = [1.5, -8.0, 1.0000001]
    sf.write(tmp_path / "loud.wav", x, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"loud\.wav: 3 of 1600 samples are outside \[-1, 1\] \(peak 8\)"):
        load_wav(tmp_path / "loud.wav")
    x[[10, 20, 30]] = [1.0, -1.0, 0.0]      # the limits themselves are fine
    sf.write(tmp_path / "full.wav", x, SAMPLE_RATE, subtype="FLOAT")
    assert load_wav(tmp_path / "full.wav")[20] == -1.0


def test_a_data_chunk_shorter_than_its_header_says_is_refused(tmp_path):
    sf.write(tmp_path / "ok.wav", tone(1600, SAMPLE_RATE), SAMPLE_RATE, subtype="PCM_16")
    data = (tmp_path / "ok.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:-1000])
    with pytest.raises(AudioError, match=r"cut\.wav: truncated wav: its data chunk holds 2200 bytes, "
                                         r"the header says 3200"):
        load_wav(tmp_path / "cut.wav")
    # a header written before the length was known (a stream) is not a truncation
    unknown = data[:40] + (0xFFFFFFFF).to_bytes(4, "little") + data[44:]
    (tmp_path / "stream.wav").write_bytes(unknown)
    assert data[36:40] == b"data" and load_wav(tmp_path / "stream.wav").shape == (1600,)


def test_writer_leaves_no_partial_file_on_failure(tmp_path, monkeypatch):
    from rnnse.audio import WavWriter, save_wav

    save_wav(tmp_path / "old.wav", tone(1600, SAMPLE_RATE))
    before = (tmp_path / "old.wav").read_bytes()

    def full(*_a, **_k):
        raise sf.LibsndfileError(0, "No space left on device")

    with pytest.raises(AudioError, match=r"old\.wav: writing failed .*nothing was written"), \
            WavWriter(tmp_path / "old.wav") as w:
        w.write(np.zeros(800, np.int16))
        assert len(list(tmp_path.iterdir())) == 2       # the old file and the temporary one
        monkeypatch.setattr(sf.SoundFile, "write", full)
        w.write(np.zeros(800, np.int16))
    assert (tmp_path / "old.wav").read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["old.wav"]
    monkeypatch.undo()
    with pytest.raises(RuntimeError, match="stop"), WavWriter(tmp_path / "new.wav") as w:
        w.write(np.zeros(800, np.int16))
        raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.wav"]


@pytest.mark.parametrize("subtype,channels", [("PCM_16", 1), ("FLOAT", 1), ("PCM_24", 1), ("FLOAT", 2)])
def test_reader_blocks_are_the_samples_load_wav_gives(tmp_path, subtype, channels):
    from rnnse.audio import WavReader, to_pcm16

    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (70001, channels)).astype(np.float32)
    sf.write(tmp_path / "x.wav", x, SAMPLE_RATE, subtype=subtype)
    want = to_pcm16(load_wav(tmp_path / "x.wav", mono_ok=True))
    with WavReader(tmp_path / "x.wav", mono_ok=True) as r:
        assert r.frames == len(want)
        blocks = list(r.blocks(700))
        assert {len(b) for b in blocks[:-1]} == {700} and blocks[-1].dtype == np.int16
        np.testing.assert_array_equal(np.concatenate(blocks), want)
        np.testing.assert_array_equal(r.signal(), load_wav(tmp_path / "x.wav", mono_ok=True))


def test_reader_resamples_whole_and_refuses_what_load_wav_refuses(tmp_path):
    from rnnse.audio import WavReader, to_pcm16

    sf.write(tmp_path / "r48.wav", tone(4800, 48000), 48000, subtype="FLOAT")
    with WavReader(tmp_path / "r48.wav", resample_ok=True) as r:
        np.testing.assert_array_equal(np.concatenate(list(r.blocks(512))),
                                      to_pcm16(load_wav(tmp_path / "r48.wav", resample_ok=True)))
    x = tone(1600, SAMPLE_RATE)
    x[[5, 900]] = [2.0, -1.5]
    sf.write(tmp_path / "loud.wav", x, SAMPLE_RATE, subtype="FLOAT")
    x[5] = np.nan
    sf.write(tmp_path / "nan.wav", x, SAMPLE_RATE, subtype="FLOAT")
    sf.write(tmp_path / "ok.wav", tone(1600, SAMPLE_RATE), SAMPLE_RATE, subtype="PCM_16")
    (tmp_path / "cut.wav").write_bytes((tmp_path / "ok.wav").read_bytes()[:-10])
    sf.write(tmp_path / "st.wav", np.zeros((1600, 2), np.float32), SAMPLE_RATE)
    sf.write(tmp_path / "short.wav", tone(100, SAMPLE_RATE), SAMPLE_RATE)
    for name, kw in [("loud", {}), ("nan", {}), ("cut", {}), ("st", {}), ("short", {}), ("r48", {})]:
        with pytest.raises(AudioError) as want:
            load_wav(tmp_path / f"{name}.wav", **kw)
        with pytest.raises(AudioError) as got:
            WavReader(tmp_path / f"{name}.wav", **kw)
        assert str(got.value) == str(want.value)


def test_streamed_standard_output_is_the_wav_libsndfile_writes(capfdbinary):
    import io

    from rnnse.audio import StdoutWav, from_pcm16, save_wav, wav_header

    pcm = np.random.default_rng(2).integers(-32768, 32767, 1234, dtype=np.int16)
    buf = io.BytesIO()
    sf.write(buf, pcm, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    assert wav_header(len(pcm)) == buf.getvalue()[:44]
    with StdoutWav(frames=len(pcm)) as w:
        for i in range(0, len(pcm), 100):
            w.write(pcm[i:i + 100])
    streamed = capfdbinary.readouterr().out
    save_wav("-", from_pcm16(pcm))
    assert streamed == capfdbinary.readouterr().out == buf.getvalue()
    with pytest.raises(AudioError, match="ended after 100 of its 1234 samples"), StdoutWav(frames=1234) as w:
        w.write(pcm[:100])
