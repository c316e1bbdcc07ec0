"""Finding inputs in hostile folders: links (broken, looping, duplicate), special and unreadable files,
folders named like files, non-UTF-8 names and oversized files. Each is read once or skipped with a reason."""

import os
import subprocess
import sys

import pytest
from conftest import build_midi, note_events
from typer.testing import CliRunner

from rnnrbm import midi
from rnnrbm.cli import app
from rnnrbm.corpus import Corpus
from rnnrbm.errors import UsageError
from rnnrbm.ingest import NothingUsable, collect_inputs, ingest
from rnnrbm.paths import safe_name

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # root reads files whatever their mode


def tune(path, pitch=60):
    path.parent.mkdir(parents=True, exist_ok=True)
    return build_midi(path, [note_events([(pitch, 0, 1), (pitch + 4, 1, 2)])])


def skips(report):
    return {reason: sorted(name for name, _ in names) for reason, names in report.skipped.items()}


@pytest.fixture
def linked(tmp_path):
    """A folder with links of every kind, and the real files they point to beside it."""
    outside = tmp_path / "outside"
    tune(outside / "far.mid", 62)
    tune(outside / "folder" / "deep.mid", 64)
    root = tmp_path / "music"
    tune(root / "a.mid")
    tune(root / "real" / "b.mid", 67)
    os.symlink(outside / "far.mid", root / "to_file.mid")  # link to a file outside: read
    os.symlink(outside / "far.mid", root / "again.mid")  # a second link to it: skipped
    os.symlink(outside / "folder", root / "to_folder")  # link to a folder outside: searched
    os.symlink(root / "real", root / "alias")  # link to a folder searched anyway: skipped
    os.symlink(root, root / "real" / "loop")  # link to its own parent: no endless walk
    os.symlink(tmp_path / "nowhere.mid", root / "broken.mid")
    os.symlink("self.mid", root / "self.mid")  # a link to itself
    os.link(root / "a.mid", root / "hard.mid")  # the same file under another name
    return root


def test_links_are_followed_once_and_reported(linked):
    corpus, report = ingest([linked])
    assert corpus.names.tolist() == ["a.mid", "again.mid", "real/b.mid", "to_folder/deep.mid"]
    assert skips(report) == {
        "same file as another input": ["hard.mid", "to_file.mid"],
        "link to a folder already searched": ["alias/", "real/loop/"],
        "broken symbolic link": ["broken.mid", "self.mid"],
    }
    detail = dict(report.skipped["same file as another input"])["to_file.mid"]
    assert "again.mid" in detail  # says which name it was read under
    assert report.files == 10 and report.n_skipped == 6


def test_folder_given_twice_and_through_a_link_is_read_once(linked):
    corpus, report = ingest([linked, linked / "real", linked / "a.mid"])
    assert corpus.names.tolist().count("real/b.mid") == 1 and "b.mid" not in corpus.names.tolist()
    assert len(corpus) == 4 and "a.mid" not in [n for names in report.skipped.values() for n, _ in names]


def test_folder_named_like_a_midi_file_is_searched(tmp_path):
    tune(tmp_path / "in" / "x.mid" / "inner.mid")
    (tmp_path / "in" / "empty.midi").mkdir()
    corpus, report = ingest([tmp_path / "in"])
    assert corpus.names.tolist() == ["x.mid/inner.mid"] and report.n_skipped == 0
    corpus, _ = ingest([tmp_path / "in" / "x.mid"])  # named on the command line: still a folder
    assert corpus.names.tolist() == ["inner.mid"]


def test_fifo_is_skipped_without_waiting_for_a_writer(tmp_path):
    tune(tmp_path / "in" / "a.mid")
    os.mkfifo(tmp_path / "in" / "pipe.mid")
    _, report = ingest([tmp_path / "in"])  # would block forever if the FIFO were opened for reading
    assert skips(report) == {"not a regular file": ["pipe.mid"]}
    with pytest.raises(UsageError, match="not a regular file"):
        collect_inputs([tmp_path / "in" / "pipe.mid"])
    from rnnrbm.workers import parse_midi

    assert parse_midi(str(tmp_path / "in" / "pipe.mid"), {}).reason == "not a regular file"


def test_bad_explicit_paths_are_usage_errors(linked, tmp_path):
    with pytest.raises(UsageError, match="broken symbolic link"):
        ingest([linked / "broken.mid"])
    with pytest.raises(UsageError, match="does not exist"):
        ingest([tmp_path / "missing.mid"])


def test_only_broken_inputs_say_why(tmp_path):
    os.symlink(tmp_path / "gone.mid", tmp_path / "dead.mid")
    with pytest.raises(NothingUsable, match=r"broken symbolic link \(1\)"):
        ingest([tmp_path])


@pytest.mark.skipif(AS_ROOT, reason="root can read files whatever their permissions")
def test_unreadable_file_and_folder(tmp_path):
    tune(tmp_path / "in" / "a.mid")
    locked = tune(tmp_path / "in" / "locked.mid")
    tune(tmp_path / "in" / "closed" / "c.mid")
    locked.chmod(0)
    (tmp_path / "in" / "closed").chmod(0)
    try:
        corpus, report = ingest([tmp_path / "in"])
    finally:
        locked.chmod(0o644)
        (tmp_path / "in" / "closed").chmod(0o755)
    assert corpus.names.tolist() == ["a.mid"]
    assert skips(report) == {"cannot read file (permission denied; check its permissions)": ["locked.mid"],
                             "cannot read folder (permission denied; check its permissions)": ["closed/"]}


def test_unreadable_file_and_folder_as_any_user(tmp_path, monkeypatch):
    """The same as above with the refusals simulated, so it runs as root too."""
    tune(tmp_path / "in" / "a.mid")
    tune(tmp_path / "in" / "locked.mid")
    tune(tmp_path / "in" / "closed" / "c.mid")
    real_open, real_scandir = os.open, os.scandir

    def refuse(real):
        def call(path, *args):
            if os.path.basename(path) in ("locked.mid", "closed"):
                raise PermissionError(13, "Permission denied", str(path))
            return real(path, *args)
        return call

    monkeypatch.setattr(os, "open", refuse(real_open))
    monkeypatch.setattr(os, "scandir", refuse(real_scandir))
    corpus, report = ingest([tmp_path / "in"])
    assert corpus.names.tolist() == ["a.mid"]
    assert skips(report) == {"cannot read file (permission denied; check its permissions)": ["locked.mid"],
                             "cannot read folder (permission denied; check its permissions)": ["closed/"]}


def test_oversized_file_is_skipped_with_the_limit(tmp_path, monkeypatch):
    tune(tmp_path / "in" / "small.mid")
    big = tune(tmp_path / "in" / "big.mid")
    with open(big, "ab") as handle:
        handle.write(b"\0" * 4000)  # junk after the last track, as in some files in the wild
    monkeypatch.setattr(midi, "MAX_BYTES", 2000)  # instead of writing 16 MB
    corpus, report = ingest([tmp_path / "in"])
    assert corpus.names.tolist() == ["small.mid"]
    assert skips(report) == {f"larger than the {2000 / 2**20:g} MB limit": ["big.mid"]}


def test_safe_name():
    assert safe_name(os.fsdecode(b"caf\xe9.mid")) == "caf\\xe9.mid"
    assert safe_name("Für Elise.mid") == "Für Elise.mid"
    assert safe_name("odd\ud800.mid") == "odd\\ud800.mid"  # a lone surrogate not from a file name


@pytest.mark.skipif(sys.platform != "linux", reason="bytes file names are a POSIX feature")
def test_non_utf8_names_are_stored_and_printed_safely(tmp_path):
    root = tmp_path / "in"
    tune(root / "plain.mid")
    folder = os.path.join(os.fsencode(root), b"D\xfcr")  # Latin-1 "Dür"
    os.mkdir(folder)
    os.rename(os.fsencode(tune(tmp_path / "t.mid", 64)), os.path.join(folder, b"caf\xe9.mid"))
    with open(os.path.join(os.fsencode(root), b"\xff\xfe.mid"), "wb") as handle:
        handle.write(b"not midi")
    out = tmp_path / "c.npz"
    # A real process: its stdout is a strict UTF-8 stream, where a lone surrogate would crash printing.
    result = subprocess.run([sys.executable, "-m", "rnnrbm", "ingest", str(root), "-o", str(out)],
                            capture_output=True, env={**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "200"})
    stdout = result.stdout.decode("utf-8")
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert "skipped, not a MIDI file: 1" in stdout and "\\xff\\xfe.mid" in stdout
    corpus = Corpus.load(out)
    assert corpus.names.tolist() == ["D\\xfcr/caf\\xe9.mid", "plain.mid"]
    # The same file named on the command line, output path with the same odd bytes.
    odd_out = os.path.join(os.fsencode(tmp_path), b"\xe9.npz")
    result = CliRunner().invoke(app, ["ingest", os.fsdecode(os.path.join(folder, b"caf\xe9.mid")),
                                      "-o", os.fsdecode(odd_out)])
    assert result.exit_code == 0, result.output
    assert "\\xe9.npz" in result.stdout and Corpus.load(os.fsdecode(odd_out)).names.tolist() == ["caf\\xe9.mid"]
