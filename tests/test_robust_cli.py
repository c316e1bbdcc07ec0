"""The CLI contract (issue 7): argument errors, broken files, --help examples, README troubleshooting.

Every argument error of every command is exit code 2 and one line on stderr,
before any file is written; every broken checkpoint or corpus is one line and a
non-zero exit, never a traceback and never an unpickled object. The README's
troubleshooting table is checked against the messages these scenarios produce,
both ways, so it cannot go stale.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import namedtuple
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import write_chord_songs
from rnnrbm.checkpoint import Checkpoint, save_checkpoint
from rnnrbm.cli import app
from rnnrbm.corpus import Corpus
from rnnrbm.model import ModelConfig, init_params

runner = CliRunner()
README = Path(__file__).resolve().parents[1] / "README.md"
TINY = ["--hidden", "8", "--recurrent", "4", "--cd-k", "1", "--batch", "2", "--chunk", "8", "--gradient", "bptt",
        "--quiet"]
COMMANDS = ("ingest", "info", "train", "generate", "evaluate")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Shared inputs: MIDI songs (C4-B6), an empty folder, an 88-key corpus, a 36-key model, a trained run."""
    root = tmp_path_factory.mktemp("robust-cli")
    songs = write_chord_songs(root / "songs", 4)
    (root / "empty").mkdir()
    (root / "plain").write_text("a file, not a folder")
    rng = np.random.default_rng(0)
    rolls = [(rng.random((24, 88)) < 0.05).astype(np.uint8) for _ in range(3)]
    Corpus.from_pieces(rolls, ["a", "b", "c"], ["train", "valid", "test"],
                       {"low": 21, "high": 108, "steps_per_beat": 4}).save(root / "c88.npz")
    rolls = [(rng.random((24, 36)) < 0.1).astype(np.uint8) for _ in range(3)]
    Corpus.from_pieces(rolls, ["a", "b", "c"], ["train", "valid", "test"],
                       {"low": 60, "high": 95, "steps_per_beat": 4}).save(root / "c36.npz")
    config = ModelConfig(36, 8, 4)
    meta = {"low": 60, "high": 95, "steps_per_beat": 4, "out_of_range": "fold", "qpm": 100.0,
            "model": asdict(config)}
    save_checkpoint(root / "m36.npz", Checkpoint(init_params(config, rng), meta))
    result = runner.invoke(app, ["train", str(songs), "-o", str(root / "run" / "m.npz"), "--epochs", "1", *TINY])
    assert result.exit_code == 0, result.output
    return SimpleNamespace(root=root, songs=songs, empty=root / "empty", plain=root / "plain",
                           c88=root / "c88.npz", c36=root / "c36.npz", m36=root / "m36.npz", run=root / "run" / "m.npz",
                           nope=root / "nope")


def error_line(result, code: int) -> str:
    """The single stderr line of a failed command (without 'error: '), after checking the contract."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0].removeprefix("error: ")


# ------------------------------------------------------------------ argument errors: exit 2, one line

Case = namedtuple("Case", "id args")

# ``args(env, out)``: ``out`` is a fresh folder for the case's outputs (it must stay empty).
ARGUMENT_CASES = [
    # a nonexistent path
    Case("ingest-missing", lambda e, o: ["ingest", e.nope, "-o", o / "c.npz"]),
    Case("info-missing", lambda e, o: ["info", e.nope]),
    Case("train-missing", lambda e, o: ["train", e.nope, "-o", o / "m.npz"]),
    Case("train-missing-corpus", lambda e, o: ["train", e.root / "nope.npz", "-o", o / "m.npz"]),
    Case("generate-missing-model", lambda e, o: ["generate", "-m", e.root / "nope.npz", "-o", o / "g.mid"]),
    Case("generate-missing-primer", lambda e, o: ["generate", "-m", e.m36, "-o", o / "g.mid",
                                                  "--primer", e.root / "nope.mid"]),
    Case("evaluate-missing-data", lambda e, o: ["evaluate", "-m", e.m36, e.nope]),
    Case("evaluate-missing-model", lambda e, o: ["evaluate", "-m", e.root / "nope.npz", e.songs]),
    Case("train-nothing-to-resume", lambda e, o: ["train", e.songs, "-o", o / "m.npz", "--resume", *TINY]),
    # an empty folder
    Case("ingest-empty", lambda e, o: ["ingest", e.empty, "-o", o / "c.npz"]),
    Case("info-empty", lambda e, o: ["info", e.empty]),
    Case("train-empty", lambda e, o: ["train", e.empty, "-o", o / "m.npz"]),
    Case("evaluate-empty", lambda e, o: ["evaluate", "-m", e.m36, e.empty]),
    Case("generate-model-is-folder", lambda e, o: ["generate", "-m", e.empty, "-o", o / "g.mid"]),
    # low > high
    Case("ingest-low-above-high", lambda e, o: ["ingest", e.songs, "-o", o / "c.npz", "--low", "C6", "--high", "C4"]),
    Case("info-low-above-high", lambda e, o: ["info", e.songs, "--low", "C6", "--high", "C4"]),
    Case("train-low-above-high", lambda e, o: ["train", e.songs, "-o", o / "m.npz", "--low", "C6", "--high", "C4"]),
    # an unknown note name
    Case("ingest-unknown-note", lambda e, o: ["ingest", e.songs, "-o", o / "c.npz", "--low", "H2"]),
    Case("info-unknown-note", lambda e, o: ["info", e.songs, "--high", "X9"]),
    Case("train-unknown-note", lambda e, o: ["train", e.songs, "-o", o / "m.npz", "--high", "C#"]),
    # steps <= 0 (and the other step counts)
    Case("generate-steps-0", lambda e, o: ["generate", "-m", e.m36, "-o", o / "g.mid", "--steps", "0"]),
    Case("generate-steps-negative", lambda e, o: ["generate", "-m", e.m36, "-o", o / "g.mid", "--steps", "-5"]),
    Case("generate-wav-too-long", lambda e, o: ["generate", "-m", e.m36, "-o", o / "g.mid", "--wav", o / "g.wav",
                                                "--seconds", "4000"]),
    Case("evaluate-sample-steps-0", lambda e, o: ["evaluate", "-m", e.m36, e.songs, "--sample-steps", "0"]),
    Case("train-chunk-0", lambda e, o: ["train", e.songs, "-o", o / "m.npz", "--chunk", "0"]),
    Case("train-epochs-0", lambda e, o: ["train", e.songs, "-o", o / "m.npz", "--epochs", "0"]),
    Case("ingest-steps-per-beat-0", lambda e, o: ["ingest", e.songs, "-o", o / "c.npz", "--steps-per-beat", "0"]),
    Case("info-steps-per-beat-0", lambda e, o: ["info", e.songs, "--steps-per-beat", "0"]),
    # temperature <= 0
    Case("generate-temperature-0", lambda e, o: ["generate", "-m", e.m36, "-o", o / "g.mid", "--temperature", "0"]),
    Case("generate-temperature-negative", lambda e, o: ["generate", "-m", e.m36, "-o", o / "g.mid",
                                                        "--temperature", "-1"]),
    # a checkpoint whose range does not match the data
    Case("evaluate-36-key-model-on-88-key-corpus", lambda e, o: ["evaluate", "-m", e.m36, e.c88]),
    Case("train-resume-on-88-key-corpus", lambda e, o: ["train", e.c88, "-o", e.run, "--resume", *TINY]),
    Case("train-resume-with-other-range", lambda e, o: ["train", e.songs, "-o", e.run, "--resume", "--low", "C3",
                                                        *TINY]),
    Case("train-resume-with-other-size", lambda e, o: ["train", e.songs, "-o", e.run, "--resume", "--hidden", "16"]),
    # outputs that cannot be written
    Case("train-out-is-folder", lambda e, o: ["train", e.songs, "-o", e.empty]),
    Case("train-out-under-a-file", lambda e, o: ["train", e.songs, "-o", e.plain / "m.npz"]),
    Case("generate-out-under-a-file", lambda e, o: ["generate", "-m", e.m36, "-o", e.plain / "g.mid"]),
    Case("generate-out-not-midi", lambda e, o: ["generate", "-m", e.m36, "-o", o / "g.wav"]),
    Case("ingest-out-under-a-file", lambda e, o: ["ingest", e.songs, "-o", e.plain / "c.npz"]),
]


def run_case(env, case: Case, out: Path):
    return runner.invoke(app, [str(a) for a in case.args(env, out)])


@pytest.mark.parametrize("case", ARGUMENT_CASES, ids=[c.id for c in ARGUMENT_CASES])
def test_argument_errors_exit_2_with_one_line_and_write_nothing(env, case, tmp_path):
    before = sorted(p.name for p in env.run.parent.iterdir())
    error_line(run_case(env, case, tmp_path), 2)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # failed before writing anything
    assert sorted(p.name for p in env.run.parent.iterdir()) == before  # the resumable run is untouched


#: The issue's cases that apply to each command (generate has no data, range or note options).
APPLIES = {
    "ingest": ["missing", "empty", "low-above-high", "unknown-note", "steps-per-beat-0"],
    "info": ["missing", "empty", "low-above-high", "unknown-note", "steps-per-beat-0"],
    "train": ["missing", "empty", "low-above-high", "unknown-note", "chunk-0", "resume-on-88-key-corpus"],
    "generate": ["missing-model", "model-is-folder", "steps-0", "steps-negative", "temperature-0",
                 "temperature-negative"],
    "evaluate": ["missing-data", "empty", "sample-steps-0", "36-key-model-on-88-key-corpus"],
}


def test_the_table_covers_every_command_and_case_that_applies():
    ids = {c.id for c in ARGUMENT_CASES}
    missing = [f"{command}-{case}" for command, cases in APPLIES.items() for case in cases
               if f"{command}-{case}" not in ids]
    assert not missing


def test_resume_takes_size_range_and_grid_from_the_checkpoint(env, tmp_path):
    run = tmp_path / "m.npz"
    for name in ("m.npz", "m.last.npz", "m.log.jsonl"):
        shutil.copy(env.run.with_name(name), tmp_path / name)
    args = ["train", str(env.songs), "-o", str(run), "--epochs", "2", "--resume", "--quiet"]  # no sizes given
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    from rnnrbm.checkpoint import load_checkpoint

    last = load_checkpoint(tmp_path / "m.last.npz")
    assert last.meta["epoch"] == 2 and last.model_config == ModelConfig(36, 8, 4)


# ------------------------------------------------------------------ broken files: one line, exit 1, no pickle

class _Marker:
    """Unpickling this creates a folder: proof that something was unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.mkdir, (self.path,)


def _rewrite_npz(path: Path, change) -> None:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    np.savez(path, **arrays)


def _meta(arrays: dict, **changes) -> None:
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes)
    arrays["meta"] = np.array(json.dumps(meta))


def _flip_member_data(path: Path) -> None:
    """Flip one byte in the middle of the largest member's data (a CRC or inflate error)."""
    with zipfile.ZipFile(path) as z:
        info = max(z.infolist(), key=lambda i: i.compress_size)
    data = bytearray(path.read_bytes())
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    data[info.header_offset + 30 + name_len + extra_len + info.compress_size // 2] ^= 0x5A
    path.write_bytes(bytes(data))


def damage(path: Path, kind: str, marker: Path, roll_key: str) -> None:
    """Break a valid checkpoint or corpus ``path`` in place; ``roll_key`` is its main array."""
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "bit-flipped":
        _flip_member_data(path)
    elif kind == "empty-file":
        path.write_bytes(b"")
    elif kind == "not-npz":
        path.write_text("these are not the arrays you are looking for")
    elif kind == "single-npy":
        with open(path, "wb") as handle:
            np.save(handle, np.zeros(3))
    elif kind == "pickle":
        with open(path, "wb") as handle:
            import pickle

            pickle.dump(_Marker(marker), handle)
    elif kind == "pickled-array":
        _rewrite_npz(path, lambda a: a.update({roll_key: np.array([_Marker(marker)], dtype=object)}))
    elif kind == "wrong-version":
        _rewrite_npz(path, lambda a: _meta(a, version=99))
    elif kind == "wrong-format":
        _rewrite_npz(path, lambda a: _meta(a, format="something-else"))
    elif kind == "wrong-shape":
        _rewrite_npz(path, lambda a: a.update({roll_key: a[roll_key][:, :5]}))
    elif kind == "nan":
        _rewrite_npz(path, lambda a: a.update({roll_key: np.full(a[roll_key].shape, np.nan, np.float32)}))
    elif kind == "meta-types":
        _rewrite_npz(path, lambda a: _meta(a, low="C4", steps_per_beat="four"))
    else:
        raise ValueError(kind)


DAMAGE = ["truncated", "bit-flipped", "empty-file", "not-npz", "single-npy", "pickle", "pickled-array",
          "wrong-version", "wrong-format", "wrong-shape", "nan", "meta-types"]


@pytest.mark.parametrize("command", ["generate", "evaluate", "train-resume"])
@pytest.mark.parametrize("kind", DAMAGE)
def test_broken_checkpoint_is_one_line_and_never_unpickled(env, tmp_path, command, kind):
    bad = tmp_path / "m.last.npz" if command == "train-resume" else tmp_path / "bad.npz"
    shutil.copy(env.run.with_name("m.last.npz"), bad)
    marker = tmp_path / "unpickled"
    damage(bad, kind, marker, "W")
    args = {"generate": ["generate", "-m", bad, "-o", tmp_path / "g.mid"],
            "evaluate": ["evaluate", "-m", bad, env.songs],
            "train-resume": ["train", env.songs, "-o", tmp_path / "m.npz", "--resume", *TINY]}[command]
    line = error_line(runner.invoke(app, [str(a) for a in args]), 1)
    assert str(bad) in line
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [bad.name]  # no output, no temporary file


@pytest.mark.parametrize("command", ["info", "train", "evaluate"])
@pytest.mark.parametrize("kind", [k for k in DAMAGE if k != "meta-types"] + ["corpus-meta"])
def test_broken_corpus_is_one_line_and_never_unpickled(env, tmp_path, command, kind):
    bad = tmp_path / "bad.npz"
    shutil.copy(env.c36, bad)
    marker = tmp_path / "unpickled"
    if kind == "corpus-meta":
        _rewrite_npz(bad, lambda a: _meta(a, low="C4"))
    else:
        damage(bad, kind, marker, "rolls")
    args = {"info": ["info", bad], "train": ["train", bad, "-o", tmp_path / "m.npz", *TINY],
            "evaluate": ["evaluate", "-m", env.m36, bad]}[command]
    line = error_line(runner.invoke(app, [str(a) for a in args]), 1)
    assert str(bad) in line
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz"]


@pytest.mark.parametrize("field, value", [(10, 99), (8, 1)], ids=["compression-method", "encryption-flag"])
def test_corpus_with_a_damaged_zip_directory_is_one_error(env, tmp_path, field, value):
    from rnnrbm.errors import RnnrbmError

    data = bytearray(env.c36.read_bytes())
    directory = int.from_bytes(data[-6:-2], "little")  # end record: offset of the central directory
    data[directory + field] = value  # first entry: an unknown method, or the "encrypted" flag
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(RnnrbmError):
        Corpus.load(bad)


def test_random_bit_flips_in_a_checkpoint_never_escape(env, tmp_path):
    from rnnrbm.checkpoint import load_checkpoint
    from rnnrbm.errors import RnnrbmError

    good = load_checkpoint(env.m36)
    data = env.m36.read_bytes()
    rng = np.random.default_rng(7)
    loaded = 0
    for i in range(300):
        flipped = bytearray(data)
        flipped[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        path = tmp_path / "f.npz"
        path.write_bytes(bytes(flipped))
        try:
            ckpt = load_checkpoint(path)
        except RnnrbmError as exc:
            assert "\n" not in str(exc)
            continue
        loaded += 1  # a flip in a field nobody reads (a timestamp, say): the content must be intact
        assert all(np.array_equal(ckpt.params[k], good.params[k]) for k in good.params)
    assert loaded < 300


# ------------------------------------------------------------------ --help

@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example(command):
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    examples = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith(f"rnnrbm {command} ")]
    assert examples, result.stdout


def test_help_of_every_command_imports_neither_numpy_nor_numba():
    code = ("import sys; from typer.testing import CliRunner; from rnnrbm.cli import app; "
            f"results = [CliRunner().invoke(app, [c, '--help']) for c in {COMMANDS!r}]; "
            "assert all(r.exit_code == 0 for r in results); "
            "print(sorted(m for m in ('numpy', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------ README troubleshooting table

def troubleshooting_table() -> list[tuple[str, str, str]]:
    """(situation, exit cell, message template) of each row of README's troubleshooting table."""
    section = README.read_text().split("\n## Troubleshooting\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) != 4 or cells[0] in ("situation", "---"):
            continue
        message = cells[2]
        message = message[2:-2].strip() if message.startswith("``") else message.strip("`")
        rows.append((cells[0], cells[1], message))
    return rows


def troubleshooting_rows() -> list[tuple[str, int, str]]:
    """(situation, exit code, message template) of the table's error rows."""
    return [(situation, int(code), message) for situation, code, message in troubleshooting_table() if code.isdigit()]


def template_regex(template: str) -> re.Pattern:
    """``<path> does not exist`` -> a pattern where each ``<placeholder>`` matches any text."""
    parts = re.split(r"<[a-z][^<>]*>", template)
    return re.compile(".+?".join(re.escape(p) for p in parts))


def documented(code: int, line: str) -> bool:
    return any(c == code and template_regex(t).fullmatch(line) for _, c, t in troubleshooting_rows())


def _fake_mkstemp(denied: Path):
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == denied:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real(*args, dir=dir, **kwargs)

    return mkstemp


def _no_space_from_epoch(epoch: int):
    real = np.savez

    def savez(handle, **arrays):
        if json.loads(str(arrays["meta"])).get("epoch", 0) >= epoch:
            handle.write(b"PK\x03\x04 half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(handle, **arrays)

    return savez


def runtime_scenarios(env, root: Path, monkeypatch) -> list[tuple[str, int, str]]:
    """(name, exit code, message line) of the problems that are not bad arguments."""
    import rnnrbm.ingest
    import rnnrbm.sample
    import rnnrbm.train

    produced = []

    def run(name: str, code: int, args, patches=()) -> None:
        with monkeypatch.context() as m:
            for target, attr, value in patches:
                m.setattr(target, attr, value)
            result = runner.invoke(app, [str(a) for a in args])
        produced.append((name, code, error_line(result, code)))

    def folder(name: str) -> Path:
        path = root / name
        path.mkdir(parents=True)
        return path

    def disk(free: int):
        return lambda path: SimpleNamespace(total=10**12, used=10**12 - free, free=free)

    out = folder("disk")
    run("train-disk-full", 2, ["train", env.songs, "-o", out / "m.npz", *TINY], [(shutil, "disk_usage", disk(1000))])
    run("generate-disk-full", 2, ["generate", "-m", env.m36, "-o", out / "g.mid", "--wav", out / "g.wav"],
        [(shutil, "disk_usage", disk(1000))])
    out = folder("denied")
    run("train-folder-read-only", 2, ["train", env.songs, "-o", out / "m.npz", *TINY],
        [(tempfile, "mkstemp", _fake_mkstemp(out))])
    run("generate-folder-read-only", 2, ["generate", "-m", env.m36, "-o", out / "g.mid"],
        [(tempfile, "mkstemp", _fake_mkstemp(out))])
    run("generate-folder-missing", 2, ["generate", "-m", env.m36, "-o", root / "no" / "g.mid"])
    run("train-disk-fills-at-epoch-3", 1, ["train", env.songs, "-o", folder("enospc") / "m.npz", "--epochs", "4",
                                            *TINY], [(np, "savez", _no_space_from_epoch(3))])
    run("train-diverges", 1, ["train", env.songs, "-o", folder("diverge") / "m.npz", "--lr", "1e6", *TINY])
    run("train-interrupted", 130, ["train", env.songs, "-o", folder("int") / "m.npz", "--epochs", "3", *TINY],
        [(rnnrbm.train, "epoch_chunks", interrupt_on_call(rnnrbm.train.epoch_chunks, 2))])
    run("train-interrupted-while-reading", 130, ["train", env.songs, "-o", folder("int-read") / "m.npz", *TINY],
        [(rnnrbm.ingest, "load_pieces", interrupt_on_call(rnnrbm.ingest.load_pieces, 1))])
    out = folder("gen-int")
    sample_roll = rnnrbm.sample.sample_roll
    run("generate-interrupted", 130, ["generate", "-m", env.m36, "-o", out / "g.mid", "--steps", "8"],
        [(rnnrbm.sample, "sample_roll", interrupt_on_call(sample_roll, 1))])
    run("generate-interrupted-after-one", 130, ["generate", "-m", env.m36, "-o", out / "g.mid", "--steps", "8",
                                                "-n", "3"],
        [(rnnrbm.sample, "sample_roll", interrupt_on_call(sample_roll, 2))])
    run("ingest-interrupted", 130, ["ingest", env.songs, "-o", folder("ing") / "c.npz"],
        [(rnnrbm.ingest, "ingest", interrupt_on_call(rnnrbm.ingest.ingest, 1))])
    bad = folder("resume-state") / "m.last.npz"
    shutil.copy(env.run, bad)  # the best model has no optimizer or RNG state
    run("train-resume-damaged-state", 1, ["train", env.songs, "-o", bad.with_name("m.npz"), "--resume", *TINY])
    return produced


def interrupt_on_call(real, n: int):
    """``real``, except that its ``n``-th call raises KeyboardInterrupt (Ctrl-C at that moment)."""
    calls = []

    def function(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return function


def test_readme_troubleshooting_table_matches_the_real_messages(env, tmp_path, monkeypatch):
    rows = troubleshooting_rows()
    assert len(rows) >= 30
    produced = []
    for case in ARGUMENT_CASES:
        out = tmp_path / case.id
        out.mkdir()
        produced.append((case.id, 2, error_line(run_case(env, case, out), 2)))
    for command, kind in [("generate", "truncated"), ("generate", "wrong-version"), ("generate", "wrong-format"),
                          ("evaluate", "wrong-shape"), ("evaluate", "meta-types"), ("info", "not-npz"),
                          ("info", "wrong-version"), ("info", "wrong-shape"), ("info", "wrong-format")]:
        bad = tmp_path / f"{command}-{kind}.npz"
        shutil.copy(env.c36 if command == "info" else env.m36, bad)
        damage(bad, kind, tmp_path / "marker", "rolls" if command == "info" else "W")
        args = {"generate": ["generate", "-m", bad, "-o", tmp_path / "g.mid"],
                "evaluate": ["evaluate", "-m", bad, env.songs], "info": ["info", bad]}[command]
        produced.append((f"{command}-{kind}", 1, error_line(runner.invoke(app, [str(a) for a in args]), 1)))
    produced += runtime_scenarios(env, tmp_path / "runtime", monkeypatch)

    undocumented = [(name, code, line) for name, code, line in produced if not documented(code, line)]
    assert not undocumented, "messages missing from README's troubleshooting table:\n" + "\n".join(map(str, undocumented))
    stale = [(situation, code, template) for situation, code, template in rows
             if not any(c == code and template_regex(template).fullmatch(line) for _, c, line in produced)]
    assert not stale, "README rows that no scenario produces:\n" + "\n".join(map(str, stale))


def test_readme_warning_row_matches_the_real_warning(env, tmp_path):
    """The skipped-input warning row: a skipped input warns on stderr and the run still succeeds."""
    rows = [message for _, code, message in troubleshooting_table()
            if code == "warning, run goes on" and message.startswith("warning: skipped")]
    assert len(rows) == 1
    template = rows[0].replace(", ...", "<more reasons>")  # ', ...' stands for further reasons
    songs = tmp_path / "songs"
    shutil.copytree(env.songs, songs)
    (songs / "empty.mid").write_bytes(b"")
    (songs / "broken.mid").write_bytes(b"MThd not really")
    result = runner.invoke(app, ["evaluate", "-m", str(env.m36), str(songs), "--split", "all", "--ais-runs", "2",
                                 "--ais-betas", "10", "--acc-samples", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and template_regex(template).fullmatch(warnings[0]), (template, result.stderr)
