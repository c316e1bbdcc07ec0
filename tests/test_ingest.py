"""The ingest driver: walking inputs, skipping bad files with reasons, parallel parsing, load_pieces."""

import json
import signal
import threading
import time

import mido
import numpy as np
import pytest
from conftest import SHARED, build_midi, expected_roll, needs_shared, note_events, tempo_events

from rnnrbm import workers
from rnnrbm.corpus import Corpus
from rnnrbm.errors import RnnrbmError, UsageError
from rnnrbm.midi import midi_to_roll
from rnnrbm.ingest import IngestConfig, NothingUsable, collect_inputs, ingest, load_pieces, parse_midi, skip_summary


def tune(path, pitches, tempo=120):
    """A melody of quarter notes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return build_midi(path, [tempo_events([(0, tempo)]), note_events([(p, i, i + 1) for i, p in enumerate(pitches)])])


@pytest.fixture
def messy(tmp_path):
    """A folder of good MIDI files (odd letter cases, a subfolder) and every kind of bad one."""
    root = tmp_path / "music"
    tune(root / "b.mid", [60, 62, 64, 65], tempo=100)
    tune(root / "sub" / "a.MIDI", [67, 69], tempo=140)
    tune(root / "c.Kar", [72, 71, 69, 67, 65], tempo=90)
    good = tune(tmp_path / "good.mid", [60, 64, 67]).read_bytes()
    (root / "empty.mid").write_bytes(b"")
    (root / "truncated.mid").write_bytes(good[: len(good) - 10])
    (root / "random.mid").write_bytes(np.random.default_rng(1).bytes(400))
    bad = bytearray(good)
    bad[bad.index(bytes([0x90, 60])) + 2] = 200  # velocity byte > 127: mido can clip it
    (root / "velocity.mid").write_bytes(bytes(bad))
    build_midi(root / "ticks.mid", [[(0, mido.Message("note_on", note=60, velocity=90)),
                                     (0x0FFFFFFF, mido.Message("note_off", note=60))]])
    build_midi(root / "drums.mid", [note_events([(36, 0, 1), (38, 1, 2)], channel=9)])
    (root / "readme.txt").write_text("not music")
    return root


EXPECTED_SKIPS = {"empty file": ["empty.mid"], "truncated": ["truncated.mid"], "not a MIDI file": ["random.mid"],
                  "absurd tick values": ["ticks.mid"], "drums only": ["drums.mid"]}


def test_messy_folder_skips_bad_files_with_reasons(messy):
    corpus, report = ingest([messy])
    assert corpus.names.tolist() == ["b.mid", "c.Kar", "sub/a.MIDI", "velocity.mid"]  # sorted path order
    assert {reason: [n for n, _ in names] for reason, names in report.skipped.items()} == EXPECTED_SKIPS
    assert [name for name, _ in report.recovered] == ["velocity.mid"]
    assert "data byte" in report.recovered[0][1]
    assert (report.files, report.used, report.pieces, report.n_skipped) == (9, 4, 4, 5)
    assert report.steps == corpus.rolls.shape[0] == 16 + 20 + 8 + 12
    assert (report.kept, report.folded, report.dropped) == (14, 0, 0)
    np.testing.assert_array_equal(corpus.pieces()[0], expected_roll(16, [(60, 0, 4), (62, 4, 8), (64, 8, 12),
                                                                         (65, 12, 16)]))
    assert corpus.meta["qpm"] == pytest.approx(110)  # median of 100, 90, 140, 120


def test_parallel_matches_serial_and_reports_progress(messy):
    calls = []
    serial, _ = ingest([messy], jobs=1)
    parallel, report = ingest([messy], jobs=2, progress=lambda *args: calls.append(args))
    for key in ("rolls", "offsets", "lengths", "names", "splits"):
        np.testing.assert_array_equal(getattr(parallel, key), getattr(serial, key))
    assert [c[2] for c in calls] == list(range(1, 10)) and {c[3] for c in calls} == {9}
    status = {name: s for name, s, _, _ in calls}
    assert status["b.mid"] == "ok" and status["velocity.mid"] == "recovered"
    assert status["drums.mid"] == "skipped: drums only"
    assert report.n_skipped == 5


def test_meta_records_options(messy):
    config = IngestConfig(low=48, high=84, steps_per_beat=2, out_of_range="drop", pedal=False, min_steps=3)
    corpus, _ = ingest([messy], config)
    meta = corpus.meta
    assert {k: meta[k] for k in ("low", "high", "steps_per_beat", "out_of_range", "pedal", "transpose_to_c",
                                 "min_steps")} == dict(low=48, high=84, steps_per_beat=2, out_of_range="drop",
                                                       pedal=False, transpose_to_c=False, min_steps=3)
    assert meta["ingest"]["valid_fraction"] == 0.1 and meta["ingest"]["inputs"] == [str(messy)]
    assert meta["format"] == "rnnrbm-corpus" and meta["version"] == 1
    assert corpus.n_visible == 37 and corpus.lengths.tolist() == [8, 10, 4, 6]


def test_too_short_and_too_long_pieces_are_skipped(messy):
    corpus, report = ingest([messy], IngestConfig(min_steps=10, max_steps=18))
    assert corpus.names.tolist() == ["b.mid", "velocity.mid"]
    assert [n for n, _ in report.skipped["too short"]] == ["sub/a.MIDI"]
    assert [n for n, _ in report.skipped["too long"]] == ["c.Kar"]


def test_nothing_usable_raises_with_report(messy):
    with pytest.raises(NothingUsable) as info:
        ingest([messy / "empty.mid", messy / "drums.mid"])
    assert "no usable music in 2 file(s)" in str(info.value)
    assert set(info.value.report.skipped) == {"empty file", "drums only"}


def test_collect_inputs(messy, tmp_path):
    sources = collect_inputs([messy / "b.mid", messy])  # the same file twice counts once
    assert [s.name for s in sources].count("b.mid") == 1 and len(sources) == 9
    with pytest.raises(UsageError, match="does not exist"):
        collect_inputs([messy / "nope"])
    with pytest.raises(UsageError, match="unsupported file type"):
        collect_inputs([messy / "readme.txt"])
    (tmp_path / "nothing").mkdir()
    with pytest.raises(UsageError, match="no MIDI"):
        ingest([tmp_path / "nothing"])


def test_splits_are_stable_when_files_are_added(tmp_path):
    for i in range(30):
        tune(tmp_path / "d" / f"t{i}.mid", [60 + i % 12, 62])
    before, _ = ingest([tmp_path / "d"], IngestConfig(valid_fraction=0.3, test_fraction=0.3))
    for i in range(30, 40):
        tune(tmp_path / "d" / f"t{i}.mid", [60, 62])
    after, _ = ingest([tmp_path / "d"], IngestConfig(valid_fraction=0.3, test_fraction=0.3))
    old = dict(zip(before.names.tolist(), before.splits.tolist()))
    assert {n: s for n, s in zip(after.names.tolist(), after.splits.tolist()) if n in old} == old
    assert set(old.values()) == {"train", "valid", "test"}


def test_benchmark_json_keeps_splits_and_defaults_to_one_step_per_beat(tmp_path, messy):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"train": [[[60], [64, 67]], [[61]]], "valid": [[[50], [], [99]]], "test": [[[62]] * 3]}))
    corpus, report = ingest([path], IngestConfig(min_steps=2))
    assert corpus.splits.tolist() == ["train", "valid", "test"]
    assert corpus.names.tolist() == ["bench.json#train/0", "bench.json#valid/0", "bench.json#test/0"]
    assert [n for n, _ in report.skipped["too short"]] == ["bench.json#train/1"]
    assert corpus.steps_per_beat == 1 and report.folded == 2  # 50 -> 62, 99 -> 87
    np.testing.assert_array_equal(corpus.pieces("valid")[0], expected_roll(3, [(62, 0, 1), (87, 2, 3)]))
    with pytest.raises(UsageError, match="explicit --steps-per-beat"):
        ingest([path, messy])
    mixed, _ = ingest([path, messy], IngestConfig(steps_per_beat=4))
    assert len(mixed) == 7 and mixed.steps_per_beat == 4
    (tmp_path / "other.json").write_text('{"songs": []}')
    _, report = ingest([path, tmp_path / "other.json"])
    assert [n for n, _ in report.skipped["not a benchmark JSON file"]] == ["other.json"]


def test_config_validation(tmp_path):
    for bad in (dict(low=70, high=60), dict(out_of_range="wrap"), dict(steps_per_beat=0),
                dict(valid_fraction=0.6, test_fraction=0.5), dict(min_steps=0), dict(timeout=0)):
        with pytest.raises(UsageError):
            IngestConfig(**bad)
    with pytest.raises(UsageError, match="--jobs"):
        ingest([tmp_path], jobs=-1)


def test_timeout_skips_the_file_in_process(monkeypatch, messy):
    """--jobs 1 has a time limit too: a file that hangs is skipped and the next one is read."""
    real = workers.midi_to_roll
    monkeypatch.setattr(workers, "midi_to_roll",
                        lambda path, **k: time.sleep(30) if path.name == "c.Kar" else real(path, **k))
    previous = signal.getsignal(signal.SIGALRM)
    start = time.perf_counter()
    corpus, report = ingest([messy], IngestConfig(timeout=0.2))
    assert time.perf_counter() - start < 10
    assert [n for n, _ in report.skipped["took longer than the 0.2 s --timeout"]] == ["c.Kar"]
    assert corpus.names.tolist() == ["b.mid", "sub/a.MIDI", "velocity.mid"]
    assert signal.getsignal(signal.SIGALRM) is previous and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_timeout_in_worker_processes(tmp_path):
    """A file that really takes long to parse (60,000 notes, about 2 s) is skipped by the worker's own timer."""
    notes = b"\x00\x90\x3c\x40\x18\x80\x3c\x00" * 60_000  # note on, 24 ticks later note off
    track = b"MTrk" + (len(notes) + 4).to_bytes(4, "big") + notes + b"\x00\xff\x2f\x00"
    tune(tmp_path / "d" / "small.mid", [60, 62])
    (tmp_path / "d" / "big.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60" + track)
    corpus, report = ingest([tmp_path / "d"], IngestConfig(timeout=0.5), jobs=2)
    assert [n for n, _ in report.skipped["took longer than the 0.5 s --timeout"]] == ["big.mid"]
    assert corpus.names.tolist() == ["small.mid"]
    assert len(midi_to_roll(tmp_path / "d" / "big.mid", max_steps=10**6).roll) == 60_000  # a valid file


def test_no_time_limit_outside_the_main_thread(scale_file):
    """SIGALRM works in the main thread only; elsewhere a file is parsed without a limit, not refused."""
    out = []
    thread = threading.Thread(target=lambda: out.append(parse_midi(str(scale_file), {}, timeout=0.001)))
    thread.start()
    thread.join()
    assert out[0].roll is not None and out[0].roll.shape == (32, 36)


def test_load_pieces_from_corpus_json_and_midi(messy, tmp_path):
    corpus, _ = ingest([messy], IngestConfig(steps_per_beat=2))
    path = corpus.save(tmp_path / "c.npz")
    same, report = load_pieces([path], IngestConfig())  # steps_per_beat None: the corpus's own grid
    np.testing.assert_array_equal(same.rolls, corpus.rolls)
    assert report.files == 0 and skip_summary(report.skip_counts) is None
    narrow, _ = load_pieces([path], IngestConfig(low=60, high=66, steps_per_beat=2))
    assert narrow.n_visible == 7 and narrow.high == 66
    # 72 (C5) folds to 60, 71 (B4) has no place in 60..66 and is dropped.
    np.testing.assert_array_equal(narrow.pieces()[1][:4, 0], [1, 1, 0, 0])
    with pytest.raises(RnnrbmError, match="has 2 steps per beat but 4"):
        load_pieces([path], IngestConfig(steps_per_beat=4))
    both, _ = load_pieces([messy / "b.mid", path], IngestConfig())
    assert both.names.tolist() == corpus.names.tolist() + ["b.mid"]
    assert both.lengths[-1] == 8  # b.mid ingested on the fly at the corpus's 2 steps per beat
    fresh, _ = load_pieces([messy], IngestConfig(), jobs=1)
    assert fresh.steps_per_beat == 4 and len(fresh) == 4


def test_load_pieces_reports_the_files_it_skipped(messy):
    _, report = load_pieces([messy], IngestConfig())
    assert report.skip_counts == {reason: len(names) for reason, names in sorted(EXPECTED_SKIPS.items())}
    line = skip_summary(report.skip_counts)
    assert line.startswith("skipped 5 input(s) (absurd tick values: 1, drums only: 1, empty file: 1, ")
    assert "`rnnrbm ingest`" in line


@needs_shared("jsb-chorales-quarter.json")
def test_shared_jsb_chorales_keep_their_splits():
    corpus, report = ingest([SHARED / "jsb-chorales-quarter.json"], IngestConfig(low=43, high=96))
    assert {s: int((corpus.splits == s).sum()) for s in ("train", "valid", "test")} == \
        {"train": 229, "valid": 76, "test": 77}
    assert report.folded == report.dropped == 0 and corpus.steps_per_beat == 1


@needs_shared("nottingham")
def test_shared_nottingham_folder(tmp_path):
    corpus, report = ingest([SHARED / "nottingham"], jobs=2)
    assert report.files == len(list((SHARED / "nottingham").glob("*.mid")))
    assert report.n_skipped == 0 and len(corpus) == report.files
    assert 0.7 < report.splits["train"] / len(corpus) < 0.9
    assert corpus.meta["qpm"] > 0 and corpus.rolls.shape[1] == 36
    # Nearly every step of a folk tune with accompaniment sounds something.
    assert corpus.rolls.any(axis=1).mean() > 0.9
    back = Corpus.load(corpus.save(tmp_path / "n.npz"))
    assert back.lengths.sum() == report.steps
