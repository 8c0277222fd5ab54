"""The offline corpus builder on a tiny configuration (seconds of speech, four pairs per test set),
its plan for the default configuration, its sources and the committed demo clip.

Needs the Debian packages that scripts/setup.sh installs (espeak-ng, flite, ffmpeg,
asterisk-core-sounds-en-g722, klettres-data, sonic-pi-samples, fortunes).
"""
import hashlib
import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from rnnse.cli import UserError
from rnnse.data import corpus, demo
from rnnse.data import sources as src
from rnnse.data.corpus import BuildConfig, build, info, make_plan, ready_ok, split_prompts
from rnnse.data.mixing import OnlineMixer, active_rms

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(seed=3, train_hours=0.004, n_test_synthetic=4, n_test_real=4, noise_clips=1,
            noise_seconds=2.0, test_prompts_per_speaker=2, test_letters_per_language=1,
            valid_prompts_per_speaker=2, valid_letters_per_language=1, real_babble_clips=1)
SUBDIRS = corpus.SUBDIRS


def quiet(*_a, **_k):
    pass


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "c2"
    manifest = build(out, BuildConfig(**TINY), jobs=2, progress=False, log=quiet)
    return out, manifest


@pytest.fixture(scope="module")
def built_serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "c1"
    build(out, BuildConfig(**TINY), jobs=1, progress=False, log=quiet)
    return out


def tree_bytes(root):
    out = {}
    for d, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def read_int(path):
    x, sr = sf.read(path, dtype="int16")
    assert sr == 16000 and x.ndim == 1
    return x.astype(np.float64)


# -- the built tiny corpus --------------------------------------------------------------------

def test_layout_formats_and_bookkeeping(built):
    out, manifest = built
    assert sorted(os.listdir(out)) == sorted(corpus.LAYOUT)
    sp = manifest["splits"]
    assert len(sp["test_synthetic"]) == 4 and len(sp["test_real"]) == 4
    assert len(sp["test_speakers"]) == 2 * 2 + 4 and len(sp["valid"]) == 2 + 4
    # test bank: 2 clips of each of the 5 synthetic test types, real babble and real cafe + the
    # 5 held-out recordings; the validation bank: 5 types and its own 3 recordings
    assert len(sp["test_noise"]) == 2 * 7 + len(src.NOISE_RECORDINGS_TEST)
    assert len(sp["valid_noise"]) == 2 * 5 + len(src.NOISE_RECORDINGS_VALID)
    assert len(sp["train_noise"]) == len(corpus.TRAIN_SYNTHETIC_NOISE) + 1 + \
        len(src.NOISE_RECORDINGS_TRAIN) + 1
    # every recorded training clip has a voice-perturbed copy (or was skipped, with the reason)
    real = {v["source"] for v in sp["train_speech"].values()
            if v["source"] != "tts" and "perturbed" not in v}
    pert = {v["source"] for v in sp["train_speech"].values() if "perturbed" in v}
    assert pert and pert <= real
    assert sum(v["seconds"] for v in sp["train_speech"].values()) >= 0.5 * 0.004 * 3600
    for sub in SUBDIRS:
        for f in os.listdir(out / sub):
            i = sf.info(str(out / sub / f))
            assert (i.samplerate, i.channels, i.subtype, f.endswith(".wav")) == \
                (16000, 1, "PCM_16", True), f"{sub}/{f}"
    for split in corpus.PAIR_SPLITS:
        assert sorted(os.listdir(out / split / "clean")) == sorted(os.listdir(out / split / "noisy"))
        for f in os.listdir(out / split / "clean"):
            assert sf.info(str(out / split / "clean" / f)).frames == \
                sf.info(str(out / split / "noisy" / f)).frames
    with open(out / "BUILD_CONFIG.json") as fh:
        assert json.load(fh) == BuildConfig(**TINY).as_dict() == manifest["config"]
    with open(out / "manifest.json", "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    assert (out / "READY").read_text().split()[0] == digest and ready_ok(str(out))
    assert corpus.verify(str(out), manifest) == []
    assert len(corpus.corpus_files(manifest)) == sum(len(os.listdir(out / s)) for s in SUBDIRS)
    text = (out / "manifest.json").read_text()
    assert str(out) not in text and "/usr/share" not in text  # no machine paths
    assert manifest["sources"]["espeak-ng-data"] != "unknown"
    OnlineMixer.from_corpus(out).sample_batch(2, 1600, 0)  # the training pools load


def test_snrs_and_levels_measured_in_the_written_files(built):
    out, manifest = built
    banks = {"test_synthetic": "test_noise", "test_real": "test_noise",
             "test_speakers": "test_noise", "valid": "valid_noise"}
    for split in corpus.PAIR_SPLITS:
        items = manifest["splits"][split]
        assert [v["snr_db"] for _k, v in sorted(items.items())] == \
            (corpus.TEST_SNRS * 2)[:len(items)]
        for name, v in items.items():
            clean = read_int(out / split / "clean" / f"{name}.wav")
            noisy = read_int(out / split / "noisy" / f"{name}.wav")
            measured = 10 * np.log10(np.sum(clean ** 2) / np.sum((noisy - clean) ** 2))
            assert measured == pytest.approx(v["snr_db"], abs=0.01), name
            assert measured == pytest.approx(v["measured_snr_db"], abs=0.001)
            assert np.max(np.abs(noisy)) < 32768 * 0.995  # clip protection, no saturation
            level = 20 * np.log10(active_rms(clean / 32768))
            assert -34 <= level <= v["level_dbfs"] + 0.05
            assert v["noise_clip"] in manifest["splits"][banks[split]]


def test_held_out_between_training_and_test_files(built):
    _out, manifest = built
    sp = manifest["splits"]
    train = sp["train_speech"]
    syn = sp["test_synthetic"]
    assert {v["voice"] for v in syn.values()}.isdisjoint(
        {v["voice"] for v in train.values() if v["source"] == "tts"})
    assert {src.sentence_key(v["text"]) for v in syn.values()}.isdisjoint(
        {src.sentence_key(v["text"]) for v in train.values() if v["source"] == "tts"})
    assert {v["source"] for v in sp["test_real"].values()}.isdisjoint(
        {v["source"] for v in train.values()})
    rec = {split: {v["source"] for v in sp[split].values() if v["noise_type"] == "recording"}
           for split in ("train_noise", "test_noise")}
    assert rec["test_noise"] == set(src.NOISE_RECORDINGS_TEST)
    assert rec["train_noise"] == set(src.NOISE_RECORDINGS_TRAIN)
    assert {v["sha256"] for v in sp["test_noise"].values()}.isdisjoint(
        {v["sha256"] for v in sp["train_noise"].values()})
    # held-out speakers: none of their voices in training, validation and test apart
    train_speakers = {v.get("speaker") for v in train.values()}
    test_speakers = {v["speaker"] for v in sp["test_speakers"].values()}
    valid_speakers = {v["speaker"] for v in sp["valid"].values()}
    assert test_speakers == {"es-co", "it-menardi", "klettres-hu", "klettres-nds", "klettres-nl",
                             "klettres-ru"}
    assert valid_speakers == {"fr-armelle", "klettres-cs", "klettres-da", "klettres-lt",
                              "klettres-uk"}
    assert train_speakers.isdisjoint(test_speakers | valid_speakers)
    for split in ("test_speakers", "valid"):
        kinds = {v["speaker"]: v["speech"] for v in sp[split].values()}
        assert {k for k, v in kinds.items() if v == "running"} == \
            {k for k in kinds if not k.startswith("klettres-")}
        for v in sp[split].values():
            assert v["seconds"] >= (corpus.LETTERS_SECONDS if v["speech"] == "letters" else 1.5)
    valid_rec = {v["source"] for v in sp["valid_noise"].values() if v["noise_type"] == "recording"}
    assert valid_rec == set(src.NOISE_RECORDINGS_VALID)
    assert valid_rec.isdisjoint(rec["train_noise"] | rec["test_noise"])


def test_byte_identical_whatever_the_number_of_jobs(built, built_serial):
    a, b = tree_bytes(built[0]), tree_bytes(built_serial)
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []


def test_rebuild_refusal_force_and_interrupted_builds(built, tmp_path, monkeypatch):
    out, _m = built
    # the same configuration again: nothing is redone
    before = {p: os.stat(os.path.join(out, p)).st_mtime_ns for p in tree_bytes(out)}
    said = []
    build(out, BuildConfig(**TINY), jobs=1, progress=False, log=said.append)
    assert "already complete with this configuration" in said[0]
    assert {p: os.stat(os.path.join(out, p)).st_mtime_ns for p in before} == before
    # another configuration: refused, naming the difference
    with pytest.raises(UserError, match=r"different configuration \(seed: 3 there, 4 now\); pass "
                                        r"--force"):
        build(out, BuildConfig(**dict(TINY, seed=4)), jobs=1, progress=False, log=quiet)
    # --force on a copy, interrupted after a few files
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    real_job, calls = corpus.run_job, []

    def interrupted(job):
        calls.append(job["name"])
        if len(calls) > 5:
            raise KeyboardInterrupt
        return real_job(job)

    monkeypatch.setattr(corpus, "run_job", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(copy, BuildConfig(**dict(TINY, seed=4)), jobs=1, force=True, progress=False,
              log=quiet)
    monkeypatch.setattr(corpus, "run_job", real_job)
    assert not (copy / "READY").exists() and not (copy / "manifest.json").exists()
    # the old corpus is gone: only the five files written before the interruption are there
    assert sorted(os.listdir(copy / "train" / "speech")) == sorted(n + ".wav" for n in calls[:5])
    assert os.listdir(copy / "test_real" / "clean") == []
    with pytest.raises(FileNotFoundError, match="no READY file"):
        OnlineMixer.from_corpus(copy)
    with pytest.raises(UserError, match="no manifest.json; not a corpus, or its build did not finish"):
        info(copy)
    # the same (interrupted) configuration is rebuilt from scratch without --force
    m4 = build(copy, BuildConfig(**dict(TINY, seed=4)), jobs=1, progress=False, log=quiet)
    assert ready_ok(str(copy)) and corpus.verify(str(copy), m4) == []
    assert (copy / "READY").read_text() != (out / "READY").read_text()  # another seed, another corpus


def test_write_errors_are_reported_not_raised_as_tracebacks(tmp_path, monkeypatch):
    def disk_full(path, _x):
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(corpus, "_write", disk_full)
    with pytest.raises(UserError, match=r"real_00000_.*\.wav: cannot write the corpus \(No space "
                                        r"left on device\); the build is incomplete"):
        build(tmp_path / "c", BuildConfig(**TINY), jobs=1, progress=False, log=quiet)
    assert not (tmp_path / "c" / "READY").exists()
    with pytest.raises(UserError, match="no manifest.json"):
        info(tmp_path / "c")
    with pytest.raises(UserError, match="not a folder"):
        info(tmp_path / "c" / "BUILD_CONFIG.json")


def test_output_folder_errors(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mine.txt").write_text("keep")
    with pytest.raises(UserError, match="is not empty and is not a corpus built by rnnse"):
        build(tmp_path / "other", BuildConfig(**TINY), jobs=1, progress=False, log=quiet)
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match="exists and is not a folder"):
        build(tmp_path / "f", BuildConfig(**TINY), jobs=1, progress=False, log=quiet)
    assert (tmp_path / "other" / "mine.txt").read_text() == "keep"


def test_info_verify_and_the_command_line(built, tmp_path, capsys):
    from rnnse.cli import main

    out, manifest = built
    text = info(out)
    assert f"corpus {out} (seed 3, version {corpus.CORPUS_VERSION}, fingerprint " in text
    assert "SNR 2.5 dB x1, 7.5 dB x1, 12.5 dB x1, 17.5 dB x1" in text
    assert "state         : complete" in text
    assert "sources       : same versions as on this machine" in text
    assert main(["data", "info", "--verify", str(out)]) == 0
    n = len(corpus.corpus_files(manifest))
    assert f"verify        : all {n} files match their sha256" in capsys.readouterr().out
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    victim = sorted(os.listdir(copy / "test_real" / "noisy"))[0]
    with open(copy / "test_real" / "noisy" / victim, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01")
    (copy / "train" / "noise" / "extra.wav").write_bytes(b"")
    assert main(["data", "info", "--verify", str(copy)]) == 2
    err = capsys.readouterr().err
    assert f"changed: test_real/noisy/{victim}" in err
    assert "not in the manifest: train/noise/extra.wav" in err
    assert main(["data", "build", "--out", str(tmp_path / "x"), "--jobs", "0"]) == 2
    assert "--jobs must be a positive integer" in capsys.readouterr().err
    assert main(["data", "info", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err


# -- configuration and missing sources --------------------------------------------------------

@pytest.mark.parametrize("field,value,message", [
    ("train_hours", 0.0, "--train-hours must be positive"),
    ("n_test_synthetic", 701, r"--test-synthetic must be within 0\.\.700"),
    ("n_test_real", 277, r"--test-real must be within 0\.\.276"),
    ("noise_clips", 0, "--noise-clips must be at least 1"),
    ("noise_seconds", 0.5, "--noise-seconds must be at least 1"),
    ("test_prompts_per_speaker", 1000, r"test_prompts_per_speaker must be at most \d+ \(half of "
                                       r"es-co's \d+ prompts"),
    ("valid_prompts_per_speaker", 1000, "valid_prompts_per_speaker must be at most"),
    ("perturb_copies", -1, "perturb_copies must be a non-negative integer"),
])
def test_configuration_errors(tmp_path, field, value, message):
    with pytest.raises(UserError, match=message):
        build(tmp_path / "c", BuildConfig(**dict(TINY, **{field: value})), jobs=1,
              progress=False, log=quiet)
    assert not (tmp_path / "c").exists()


def test_missing_debian_packages_are_named(tmp_path, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(src.shutil, "which", lambda b: None if b == "flite" else real_which(b))
    monkeypatch.setattr(src, "ASTERISK_DIR", str(tmp_path / "no-asterisk"))
    with pytest.raises(UserError, match=r"needs the Debian package\(s\) flite, "
                                        r"asterisk-core-sounds-en-g722; install them with: sudo "
                                        r"apt-get install flite asterisk-core-sounds-en-g722"):
        build(tmp_path / "c", BuildConfig(**TINY), jobs=1, progress=False, log=quiet)
    assert not (tmp_path / "c").exists()
    monkeypatch.setattr(src, "SONIC_PI_DIR", str(tmp_path))
    with pytest.raises(UserError, match=r"loop_3d_printer\.flac: missing \(is the Debian package "
                                        r"sonic-pi-samples complete\?\)"):
        src.sonic_pi("loop_3d_printer")
    with pytest.raises(UserError, match="no-such-tool-rnnse is not installed"):
        src._run(["no-such-tool-rnnse"], "testing")
    with pytest.raises(UserError, match=r"espeak-ng voice xx-nowhere failed: espeak-ng exited "
                                        r"with 1 \(Error: The specified espeak-ng voice does not"):
        src.synthesize("espeak:xx-nowhere", "Hello there.")


def test_missing_voices_are_named(monkeypatch):
    src.require_voices()  # the installed espeak-ng and flite have every voice
    monkeypatch.setattr(src, "espeak_variants", lambda: set(src.ESPEAK_VARIANTS) - {"m3", "f2"})
    with pytest.raises(UserError, match="espeak-ng/flite lack voice.s. the corpus uses: f2, m3"):
        src.require_voices()


# -- the plan of the default configuration ----------------------------------------------------

@pytest.fixture(scope="module")
def default_plan():
    return make_plan(BuildConfig(), "out")


def test_default_plan_holds_out_text_voices_prompts_and_noises(default_plan):
    phase1, phase2 = default_plan
    cfg = BuildConfig()
    key = src.sentence_key
    train_tts = [j for j in phase1 if j["kind"] == "speech_tts"]
    noise = [j for j in phase1 if j["kind"] == "noise"]
    syn = [j for j in phase2 if j["kind"] == "test_synthetic"]
    real = [j for j in phase2 if j["kind"] == "test_real"]
    assert len(syn) == cfg.n_test_synthetic and len(real) == cfg.n_test_real
    # sentences: test speech, test babble and training (speech and babble) pairwise disjoint
    train_text = {key(j["text"]) for j in train_tts}
    for j in noise:
        if j["split"] == "train" and "sentences" in j:
            train_text |= {key(s) for s in j["sentences"]}
    test_babble = set()
    for j in noise:
        if j["split"] == "test" and "sentences" in j:
            test_babble |= {key(s) for s in j["sentences"]}
    test_text = {key(j["text"]) for j in syn}
    assert len(test_text) == len(syn)
    assert test_text.isdisjoint(train_text) and test_babble.isdisjoint(train_text)
    assert test_text.isdisjoint(test_babble)
    # voices: held out by espeak dialect, by espeak variant and by flite voice
    train_voices = {j["voice"] for j in train_tts}
    for j in noise:
        if j["split"] == "train" and "voices" in j:
            train_voices |= set(j["voices"])
    test_voices = {j["voice"] for j in syn}
    for j in noise:
        if j["split"] == "test" and "voices" in j:
            test_voices |= set(j["voices"])
    assert test_voices.isdisjoint(train_voices)

    def parts(voices, i):
        return {v.split(":")[1].split("+")[i] for v in voices if v.startswith("espeak:")}

    assert parts(test_voices, 0).isdisjoint(parts(train_voices, 0))
    assert parts(test_voices, 1).isdisjoint(parts(train_voices, 1))
    assert len(parts(test_voices, 1)) == corpus.N_TEST_VARIANTS
    # recorded prompts: the test set's are the longest spoken ones and never training speech
    train_paths = {j["path"] for j in phase1 if j["kind"] == "speech_real"}
    test_paths = {j["path"] for j in real}
    assert test_paths.isdisjoint(train_paths)
    assert test_paths == {r.path for r in split_prompts(cfg.n_test_real)[0]}
    for p in train_paths | test_paths:
        if p.startswith(src.ASTERISK_DIR):
            assert src.is_speech_prompt(os.path.relpath(p, src.ASTERISK_DIR)), p
    # noise recordings and clatter: test-only ones never in training
    train_rec = {j["recording"] for j in noise if j["split"] == "train" and "recording" in j}
    test_rec = {j["recording"] for j in noise if j["split"] == "test" and "recording" in j}
    assert test_rec.isdisjoint(train_rec) and set(src.CLATTER_TEST).isdisjoint(train_rec)
    assert {j["noise_clip"] for j in phase2 if j.get("bank", "test_noise") == "test_noise"} <= \
        {j["name"] for j in noise if j["split"] == "test"}
    assert {j["noise_clip"] for j in phase2 if j.get("bank") == "valid_noise"} <= \
        {j["name"] for j in noise if j["split"] == "valid"}
    # Valentini's SNRs, evenly
    for js in (syn, real):
        snrs = [j["snr_db"] for j in js]
        assert sorted(set(snrs)) == corpus.TEST_SNRS
        assert max(snrs.count(s) for s in corpus.TEST_SNRS) - \
            min(snrs.count(s) for s in corpus.TEST_SNRS) <= 1


def test_default_plan_size_seeds_and_seed_dependence(default_plan):
    phase1, phase2 = default_plan
    est = 0.0
    for j in phase1:
        if j["kind"] == "speech_tts":
            est += corpus._estimate_tts_seconds(j["text"], j["speed"])
        elif j["kind"] == "speech_real":
            est += (os.path.getsize(j["path"]) / 8000 * corpus.ASTERISK_KEEP
                    if j["path"].endswith(".g722") else corpus.KLETTRES_SECONDS)
    assert est >= 2.0 * 3600  # the planned (estimated) training speech meets --train-hours
    seeds = [j["seed"] for j in phase1 + phase2]
    assert len(set(seeds)) == len(seeds)
    other = make_plan(BuildConfig(seed=1), "out")
    assert [j["text"] for j in other[1] if j["kind"] == "test_synthetic"] != \
        [j["text"] for j in phase2 if j["kind"] == "test_synthetic"]


def test_default_plan_of_the_held_out_speakers(default_plan):
    phase1, phase2 = default_plan
    cfg = BuildConfig()
    for split, folder, n in (("test", "test_speakers", 200), ("valid", "valid", 120)):
        mixes = [j for j in phase2 if j["kind"] == "speakers_mix" and j["split"] == folder]
        assert len(mixes) == n
        running = [j for j in mixes if j["speech"] == "running"]
        assert len(running) == len(src.SPEAKER_SPLIT[split]["prompts"]) * (
            cfg.test_prompts_per_speaker if split == "test" else cfg.valid_prompts_per_speaker)
        targets = {p for j in running for p in j["paths"]}
        bank = [j for j in phase1 if j["kind"] == "noise" and j["split"] == split
                and j["type"] in ("babble_real", "cafe_real")]
        talkers = {p for j in bank for p, _s in j["talkers"]}
        # the split's babble speaks its own speakers' other prompts, never a target prompt
        assert bank and targets.isdisjoint(talkers)
        assert {src.split_of_speaker(s) for j in bank for _p, s in j["talkers"]} == {split}
        for j in mixes:
            assert j["noise_clip"] in {b["name"] for b in phase1 if b["kind"] == "noise" and
                                       b["split"] == split} | (
                {b["name"] for b in phase1 if b["kind"] == "noise" and b["split"] == "test"})
        assert sorted({j["snr_db"] for j in mixes}) == corpus.TEST_SNRS
    train_babble = [j for j in phase1 if j["kind"] == "noise" and j["type"] == "babble_real"
                    and j["split"] == "train"]
    assert {src.split_of_speaker(s) for j in train_babble for _p, s in j["talkers"]} == {"train"}
    pert = [j for j in phase1 if j["kind"] == "speech_pert"]
    assert len(pert) == len([j for j in phase1 if j["kind"] == "speech_real"])
    lo, hi = corpus.PERTURB_F0_RANGE
    assert all(lo <= j["target_f0"] <= hi for j in pert)


# -- sources -----------------------------------------------------------------------------------

def test_sources_text_prompts_and_voices():
    sentences = src.fortune_sentences()
    assert len(sentences) > 5000
    assert len({src.sentence_key(s) for s in sentences}) == len(sentences)
    assert all(src._ALLOWED.match(s) and 3 <= len(s.split()) <= 25 for s in sentences)
    prompts = src.asterisk_prompts()
    names = {r.rel for r in prompts}
    assert len(prompts) == 553 and "tt-weasels.g722" in names
    assert not any(n.startswith("silence/") or n in ("beep.g722", "tt-monkeys.g722") for n in names)
    x = src.decode_g722(os.path.join(src.ASTERISK_DIR, "tt-weasels.g722"))
    size = os.path.getsize(os.path.join(src.ASTERISK_DIR, "tt-weasels.g722"))
    assert abs(len(x) - size * 2) <= 32 and 20 * np.log10(active_rms(x)) > -40
    a = src.synthesize("espeak:en-us+m3", "Hello there.")
    assert np.array_equal(a, src.synthesize("espeak:en-us+m3", "Hello there."))
    assert not np.array_equal(a, src.synthesize("espeak:en-us+f2", "Hello there."))
    f = src.synthesize("flite:slt", "Hello there.", speed=200)
    assert f.dtype == np.float32 and 0.3 < len(f) / 16000 < 2.0
    assert len(src.synthesize("flite:slt", "Hello there.", speed=120)) > len(f)


# -- the demo clip -------------------------------------------------------------------------------

def test_demo_clip_is_held_out_and_matches_the_committed_one(tmp_path):
    lines = demo.make_demo(str(tmp_path))
    rec, _x = demo.choose_prompt(3.0)
    assert rec.path in {r.path for r in split_prompts(BuildConfig().n_test_real)[0]}
    assert demo.DEMO_NOISE in src.NOISE_RECORDINGS_TEST
    assert demo.DEMO_NOISE not in src.NOISE_RECORDINGS_TRAIN
    assert rec.rel in lines[0]
    clean = read_int(tmp_path / "demo_clean.wav")
    noisy = read_int(tmp_path / "demo_noisy.wav")
    assert abs(len(clean) / 16000 - 3.0) < 0.6 and len(noisy) == len(clean)
    assert 10 * np.log10(np.sum(clean ** 2) / np.sum((noisy - clean) ** 2)) == \
        pytest.approx(5.0, abs=0.05)
    for name in ("demo_clean.wav", "demo_noisy.wav"):
        assert os.path.getsize(tmp_path / name) < 150_000
        with open(tmp_path / name, "rb") as fh, \
                open(os.path.join(ROOT, "samples", name), "rb") as committed:
            assert fh.read() == committed.read(), f"samples/{name} differs from `rnnse data demo`"
    with pytest.raises(UserError, match="--seconds must be within 1..4.5"):
        demo.make_demo(str(tmp_path), seconds=6.0)
