"""``rnnrbm ingest`` and ``rnnrbm info`` through Typer's CliRunner: exit codes and messages."""

import subprocess
import sys

import pytest
from conftest import build_midi, note_events, tempo_events
from typer.testing import CliRunner

from rnnrbm.cli import app
from rnnrbm.corpus import Corpus

runner = CliRunner()


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    for i in range(3):
        build_midi(root / f"t{i}.mid", [tempo_events([(0, 120)]),
                                        note_events([(60 + i, 0, 1), (48, 1, 2), (100, 2, 3)])])
    (root / "broken.mid").write_bytes(b"MThd\x00\x00")
    return root


def one_error_line(result, code, *fragments):
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_ingest_writes_corpus_and_prints_summary(folder, tmp_path):
    out = tmp_path / "c.npz"
    result = runner.invoke(app, ["ingest", str(folder), "-o", str(out), "--out-of-range", "drop"])
    assert result.exit_code == 0, result.output
    assert "Ingest summary" in result.stdout and "skipped, truncated: 1" in result.stdout
    assert "3 / 0 / 6" in result.stdout  # notes kept / folded / dropped
    assert f"Wrote {out}" in " ".join(result.stdout.split())
    corpus = Corpus.load(out)
    assert corpus.names.tolist() == ["t0.mid", "t1.mid", "t2.mid"]
    assert corpus.meta["out_of_range"] == "drop" and corpus.meta["ingest"]["max_steps"] == 200_000


def test_ingest_options_reach_the_corpus(folder, tmp_path):
    out = tmp_path / "c.npz"
    result = runner.invoke(app, ["ingest", str(folder / "t1.mid"), "-o", str(out), "--range", "piano",
                                 "--steps-per-beat", "2", "--no-pedal", "--jobs", "0", "--min-steps", "1"])
    assert result.exit_code == 0, result.output
    corpus = Corpus.load(out)
    assert (corpus.low, corpus.high, corpus.steps_per_beat, corpus.meta["pedal"]) == (21, 108, 2, False)
    rows, columns = corpus.pieces()[0].nonzero()
    assert rows.tolist() == [0, 1, 2, 3, 4, 5] and columns.tolist() == [40, 40, 27, 27, 79, 79]


def test_nonexistent_path_is_one_line_exit_2(tmp_path):
    result = runner.invoke(app, ["ingest", str(tmp_path / "missing"), "-o", str(tmp_path / "c.npz")])
    one_error_line(result, 2, "missing", "does not exist")


@pytest.mark.parametrize("args, fragments", [
    (["--low", "C5", "--high", "C4"], ["above", "C5"]),
    (["--low", "H2"], ["unknown note", "H2"]),
    (["--range", "piano", "--low", "C2"], ["either --range"]),
    (["--out-of-range", "wrap"], ["fold or drop"]),
    (["--steps-per-beat", "0"], ["--steps-per-beat"]),
    (["--jobs", "-1"], ["--jobs"]),
])
def test_bad_options_are_one_line_exit_2(folder, tmp_path, args, fragments):
    result = runner.invoke(app, ["ingest", str(folder), "-o", str(tmp_path / "c.npz"), *args])
    one_error_line(result, 2, *fragments)


def test_unwritable_output_fails_before_parsing(folder, tmp_path):
    (tmp_path / "plain").write_text("")
    result = runner.invoke(app, ["ingest", str(folder), "-o", str(tmp_path / "plain" / "c.npz")])
    one_error_line(result, 2, "cannot make folder")
    assert "Ingest summary" not in result.stdout
    result = runner.invoke(app, ["ingest", str(folder), "-o", str(tmp_path / "c.json")])
    one_error_line(result, 2, ".npz")


def test_missing_output_folders_are_made(folder, tmp_path):
    result = runner.invoke(app, ["ingest", str(folder), "-o", str(tmp_path / "new" / "deeper" / "c.npz")])
    assert result.exit_code == 0 and (tmp_path / "new" / "deeper" / "c.npz").is_file()


def test_nothing_usable_exits_1_after_the_summary(folder, tmp_path):
    result = runner.invoke(app, ["ingest", str(folder / "broken.mid"), "-o", str(tmp_path / "c.npz")])
    one_error_line(result, 1, "no usable music in 1 file", "truncated (1)")
    assert "skipped, truncated: 1" in result.stdout
    assert not (tmp_path / "c.npz").exists()


def test_info_on_corpus_and_midi_file(folder, tmp_path):
    out = tmp_path / "c.npz"
    assert runner.invoke(app, ["ingest", str(folder), "-o", str(out)]).exit_code == 0
    result = runner.invoke(app, ["info", str(out)])
    assert result.exit_code == 0, result.output
    for text in ("pieces", "C4-B6", "notes per step", "Most used pitches", "train"):
        assert text in result.stdout
    midi = runner.invoke(app, ["info", str(folder / "t2.mid"), "--range", "piano", "--top", "3"])
    assert midi.exit_code == 0, midi.output
    assert "A0-C8" in midi.stdout and "D4" in midi.stdout and "C3" in midi.stdout
    narrowed = runner.invoke(app, ["info", str(out), "--low", "C4", "--high", "C5"])
    assert narrowed.exit_code == 0 and "C4-C5" in narrowed.stdout


def test_info_errors_are_one_line(folder, tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    one_error_line(runner.invoke(app, ["info", str(tmp_path / "bad.npz")]), 1, "not a readable corpus")
    one_error_line(runner.invoke(app, ["info", str(tmp_path / "none.mid")]), 2, "does not exist")
    one_error_line(runner.invoke(app, ["info", str(folder / "broken.mid")]), 1, "truncated")


def test_cli_import_stays_light():
    code = ("import rnnrbm.cli, sys; "
            "heavy = [m for m in ('numba', 'pretty_midi', 'mido') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
