"""Corpus .npz save/load/validation, benchmark JSON reading, splits and statistics."""

import json
import os

import numpy as np
import pytest

from rnnrbm import corpus as corpus_module
from rnnrbm.corpus import (Corpus, atomic_write, assign_split, check_output, concat, read_benchmark_json,
                           steps_to_roll)
from rnnrbm.errors import RnnrbmError, UsageError

META = {"low": 60, "high": 63, "steps_per_beat": 4, "out_of_range": "fold", "qpm": 100.0}


@pytest.fixture
def corpus():
    pieces = [np.eye(4, dtype=np.uint8)[[0, 1, 2]], np.ones((2, 4), np.uint8), np.zeros((5, 4), np.uint8)]
    return Corpus.from_pieces(pieces, ["a.mid", "b/c.mid", "d.mid"], ["train", "valid", "train"], META)


def test_pieces_by_split(corpus):
    assert [len(p) for p in corpus.pieces()] == [3, 2, 5]
    train = corpus.pieces("train")
    assert [p.shape for p in train] == [(3, 4), (5, 4)]
    np.testing.assert_array_equal(train[0], np.eye(4, dtype=np.uint8)[:3])
    assert corpus.pieces("test") == []
    assert not train[0].flags.writeable  # views into the shared rolls
    with pytest.raises(UsageError):
        corpus.pieces("training")


def test_save_load_round_trip_without_pickle(corpus, tmp_path):
    path = corpus.save(tmp_path / "c.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temp file left
    with np.load(path, allow_pickle=False) as raw:
        assert sorted(raw.files) == sorted(["rolls", "offsets", "lengths", "names", "splits", "meta"])
        assert raw["rolls"].dtype == np.uint8 and raw["offsets"].dtype == np.int64
        assert raw["names"].dtype.kind == "U" and raw["meta"].shape == ()
        meta = json.loads(str(raw["meta"]))
    assert meta["format"] == "rnnrbm-corpus" and meta["version"] == 1 and meta["low"] == 60
    back = Corpus.load(path)
    for key in ("rolls", "offsets", "lengths", "names", "splits"):
        np.testing.assert_array_equal(getattr(back, key), getattr(corpus, key))
    assert back.meta == corpus.meta
    assert (back.low, back.high, back.steps_per_beat, back.n_visible, len(back)) == (60, 63, 4, 4, 3)


def _rewrite(path, **changes):
    """Save the arrays of a corpus file again with some replaced (or removed when None)."""
    with np.load(path, allow_pickle=False) as raw:
        arrays = {k: raw[k] for k in raw.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(path, **arrays)


@pytest.mark.parametrize("changes, message", [
    (dict(rolls=None), "missing rolls"),
    (dict(meta=np.array(json.dumps({**META, "format": "other"}))), "format"),
    (dict(meta=np.array(json.dumps({**META, "format": "rnnrbm-corpus", "version": 9}))), "version 9"),
    (dict(meta=np.array("{not json")), "not valid JSON"),
    (dict(meta=np.array("[1, 2]")), "format 'list'"),
    (dict(rolls=np.zeros((10, 5), np.uint8)), "shape"),
    (dict(rolls=np.full((10, 4), 2, np.uint8)), "binary"),
    (dict(lengths=np.array([3, 2, 4])), "offsets/lengths"),
    (dict(splits=np.array(["train", "dev", "test"])), "split"),
    (dict(names=np.array(["a", "b"])), "names has shape"),
])
def test_damaged_corpus_is_a_clear_error(corpus, tmp_path, changes, message):
    path = corpus.save(tmp_path / "c.npz")
    _rewrite(path, **changes)
    with pytest.raises(RnnrbmError, match=message):
        Corpus.load(path)


def test_truncated_random_and_pickled_files_are_refused(corpus, tmp_path):
    path = corpus.save(tmp_path / "c.npz")
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "random.npz").write_bytes(np.random.default_rng(0).bytes(300))
    (tmp_path / "empty.npz").write_bytes(b"")
    np.save(tmp_path / "array.npy", np.zeros(3))
    np.savez(tmp_path / "pickle.npz", rolls=np.array([{"evil": 1}], dtype=object))
    for name in ("trunc.npz", "random.npz", "empty.npz", "array.npy", "pickle.npz"):
        with pytest.raises(RnnrbmError):
            Corpus.load(tmp_path / name)
    with pytest.raises(UsageError, match="does not exist"):
        Corpus.load(tmp_path / "missing.npz")


def test_object_array_member_is_never_unpickled(corpus, tmp_path):
    path = corpus.save(tmp_path / "c.npz")
    _rewrite(path, names=np.array([object(), 1, "x"], dtype=object))
    with pytest.raises(RnnrbmError, match="not a readable corpus"):
        Corpus.load(path)


def test_with_range_folds_or_drops_columns(corpus):
    wide = Corpus.from_pieces([np.eye(5, dtype=np.uint8)], ["x"], ["train"], {**META, "low": 58, "high": 62})
    folded = wide.with_range(60, 63, "fold")
    # 58 (A#3) -> 70 is outside 60..63, so it drops; 59 (B3) -> 71 drops too.
    np.testing.assert_array_equal(folded.rolls, np.eye(5, 4, k=-2, dtype=np.uint8))
    assert (folded.low, folded.high, folded.n_visible) == (60, 63, 4)
    octave = Corpus.from_pieces([np.eye(2, dtype=np.uint8)], ["x"], ["train"], {**META, "low": 48, "high": 49})
    np.testing.assert_array_equal(octave.with_range(60, 63).rolls, np.eye(2, 4, dtype=np.uint8))
    assert corpus.with_range(60, 63) is corpus


def test_concat_keeps_order(corpus):
    both = concat([corpus, corpus])
    assert len(both) == 6 and both.names.tolist() == corpus.names.tolist() * 2
    np.testing.assert_array_equal(both.pieces()[4], corpus.pieces()[1])


def test_assign_split_is_stable_and_follows_fractions():
    names = [f"tune{i}.mid" for i in range(2000)]
    splits = [assign_split(n, 0.1, 0.2) for n in names]
    assert splits == [assign_split(n, 0.1, 0.2) for n in names]
    share = {s: splits.count(s) / len(names) for s in ("train", "valid", "test")}
    assert share["test"] == pytest.approx(0.2, abs=0.04) and share["valid"] == pytest.approx(0.1, abs=0.03)
    assert {assign_split(n, 0.0, 0.0) for n in names} == {"train"}


def test_benchmark_json_keeps_splits(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"train": [[[60, 64], [], [67]]], "test": [[[48.0]], [[100, 61]]]}))
    pieces = read_benchmark_json(path)
    assert [(s, i, len(p)) for s, i, p in pieces] == [("train", 0, 3), ("test", 0, 1), ("test", 1, 1)]
    roll, kept, folded, dropped = steps_to_roll(pieces[0][2], 60, 71)
    np.testing.assert_array_equal(roll, np.array([[1, 0, 0, 0, 1] + [0] * 7, [0] * 12, [0] * 7 + [1] + [0] * 4]))
    assert (kept, folded, dropped) == (3, 0, 0)
    roll, *counts = steps_to_roll(pieces[2][2], 60, 71, "drop")
    assert roll[0].nonzero()[0].tolist() == [1] and counts == [1, 0, 1]


@pytest.mark.parametrize("text", ['[1, 2]', '{"training": []}', '{"train": [[["C4"]]]}', '{"train": [[[200]]]}',
                                  '{"train": [[60]]}', "not json", "{}"])
def test_bad_benchmark_json(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(RnnrbmError):
        read_benchmark_json(path)


def test_steps_to_roll_transposes_to_c():
    d_major = [[62], [64], [66], [67], [69], [71], [73], [74]]
    roll, *_ = steps_to_roll(d_major, 60, 72, transpose_to_c=True)
    assert roll.argmax(axis=1).tolist() == [0, 2, 4, 5, 7, 9, 11, 12]


def test_stats(corpus):
    s = corpus.stats(top=2)
    assert s["pieces"] == 3 and s["steps"] == 10
    assert s["splits"]["train"] == {"pieces": 2, "steps": 8} and s["splits"]["test"] == {"pieces": 0, "steps": 0}
    assert s["polyphony"]["0"] == 5 and s["polyphony"]["1"] == 3 and s["polyphony"]["4"] == 2
    assert s["notes_per_step"] == pytest.approx(11 / 10)
    assert s["pitches"][0][:2] == ("C4", 3) and len(s["pitches"]) == 2
    assert s["length"] == {"min": 2, "median": 3.0, "max": 5}


def test_check_output(tmp_path):
    check_output(tmp_path / "ok.npz")
    assert list(tmp_path.iterdir()) == []  # the probe file is gone
    with pytest.raises(UsageError, match="must end in .npz"):
        check_output(tmp_path / "c.txt")
    check_output(tmp_path / "new" / "c.npz")  # missing folders are made
    assert (tmp_path / "new").is_dir()
    (tmp_path / "plain").write_text("")
    with pytest.raises(UsageError, match="cannot make folder"):
        check_output(tmp_path / "plain" / "c.npz")
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(UsageError, match="is a folder"):
        check_output(tmp_path / "dir.npz")
    (tmp_path / "file").write_text("")
    with pytest.raises(RnnrbmError):
        check_output(tmp_path / "file" / "c.npz")


def test_atomic_write_syncs_the_data_before_the_rename(tmp_path, monkeypatch):
    # A rename can reach the disk before the data; without fsync a power cut could
    # leave an empty file under the final name.
    events = []
    monkeypatch.setattr(corpus_module.os, "fsync", lambda fd: events.append(("fsync", os.fstat(fd).st_size)))
    real_replace = corpus_module.os.replace
    monkeypatch.setattr(corpus_module.os, "replace", lambda a, b: (events.append(("replace", None)), real_replace(a, b)))
    target = tmp_path / "x.bin"
    atomic_write(target, lambda f: f.write(b"12345"))
    assert events == [("fsync", 5), ("replace", None)]
    assert target.read_bytes() == b"12345"
