"""Ctrl-C during ``rnnrbm generate`` keeps finished pieces, never a partial file; full disks are found early."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnrbm.checkpoint import Checkpoint, save_checkpoint
from rnnrbm.cli import app
from rnnrbm.model import ModelConfig, init_params
from rnnrbm.sample import GenerateOptions, generate_files

runner = CliRunner()
# k = 2000 Gibbs steps on 64 hidden units: a few ms per time step, so pieces take seconds.
SLOW = ["--gibbs-steps", "2000", "--seed", "11", "--no-preview"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    config = ModelConfig(36, 64, 10)
    params = init_params(config, np.random.default_rng(0))
    params["bv"][:] = -2.0
    path = tmp_path_factory.mktemp("gen-model") / "model.npz"
    meta = {"low": 60, "high": 95, "steps_per_beat": 4, "out_of_range": "fold", "qpm": 100.0, "model": asdict(config)}
    save_checkpoint(path, Checkpoint(params, meta))
    return path


def interrupt(args: list, ready, timeout: float = 120.0) -> tuple[int, str]:
    """Run ``python -m rnnrbm generate ...``, send SIGINT once ``ready()`` holds; return (exit code, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "rnnrbm", "generate", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while not ready() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "generation ended before the interrupt"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # no effect once it has exited
    return proc.returncode, err


def listed_files(message: str) -> set[str]:
    """File names in 'interrupted: kept the N finished file(s) a, b, c; ...'."""
    if "kept the" not in message:
        return set()
    names = message.split(" file(s) ", 1)[1].split("; ", 1)[0]
    return {Path(name).name for name in names.split(", ")}


def test_ctrl_c_before_the_first_piece_writes_nothing(model, tmp_path):
    started = time.monotonic()
    # 20,000 steps per piece take well over a minute; the interrupt comes after the start-up.
    code, err = interrupt(["-m", model, "-o", tmp_path / "out.mid", "-n", 3, "--steps", 20000,
                           "--wav", tmp_path / "out.wav", *SLOW], lambda: time.monotonic() - started > 4)
    lines = err.strip().splitlines()
    assert code == 130 and lines == ["interrupted: no file was written"], err
    assert list(tmp_path.iterdir()) == []  # no MIDI, no WAV, no temporary or probe file


def test_ctrl_c_keeps_finished_pieces_and_no_partial_one(model, tmp_path):
    out, wav = tmp_path / "out.mid", tmp_path / "out.wav"
    code, err = interrupt(["-m", model, "-o", out, "-n", 3, "--steps", 400, "--wav", wav, *SLOW],
                          lambda: (tmp_path / "out-1.wav").exists())
    lines = err.strip().splitlines()
    assert code == 130 and len(lines) == 1 and "Traceback" not in err, err
    assert "no partial file was written" in lines[0]
    present = {p.name for p in tmp_path.iterdir()}
    assert present == listed_files(lines[0])  # exactly the files named, nothing else (no .tmp)
    assert {"out-1.mid", "out-1.wav"} <= present and "out-3.wav" not in present
    # Every file left is complete: the same bytes as an uninterrupted generation of that piece.
    reference = tmp_path.parent / "reference"
    reference.mkdir()
    for i in (1, 2, 3):
        if f"out-{i}.mid" in present:
            generate_files(reference / f"r{i}.mid", GenerateOptions(steps=400, seed=11 + i - 1, gibbs_steps=2000),
                           model=model, wav=reference / f"r{i}.wav")
            assert (tmp_path / f"out-{i}.mid").read_bytes() == (reference / f"r{i}.mid").read_bytes()
            if f"out-{i}.wav" in present:
                assert (tmp_path / f"out-{i}.wav").read_bytes() == (reference / f"r{i}.wav").read_bytes()


def test_ctrl_c_while_writing_leaves_no_partial_file(model, tmp_path, monkeypatch):
    import pretty_midi

    real = pretty_midi.PrettyMIDI.write
    calls = []

    def write_then_interrupt(self, handle):
        calls.append(1)
        if len(calls) == 2:  # the second piece: half written, then Ctrl-C
            handle.write(b"MThd\x00\x00")
            raise KeyboardInterrupt
        return real(self, handle)

    monkeypatch.setattr(pretty_midi.PrettyMIDI, "write", write_then_interrupt)
    result = runner.invoke(app, ["generate", "-m", str(model), "-o", str(tmp_path / "g.mid"), "-n", "3",
                                 "--steps", "16", "--gibbs-steps", "2", "--seed", "1"])
    assert result.exit_code == 130 and isinstance(result.exception, (SystemExit, type(None)))
    assert result.stderr.strip() == f"interrupted: kept the 1 finished file(s) {tmp_path / 'g-1.mid'}; " \
                                    "no partial file was written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g-1.mid"]
    pretty_midi.PrettyMIDI(str(tmp_path / "g-1.mid"))  # complete and readable


def test_ctrl_c_between_a_piece_and_its_wav_lists_what_exists(model, tmp_path, monkeypatch):
    import rnnrbm.sample

    real = rnnrbm.sample.write_wav
    calls = []

    def wav_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(rnnrbm.sample, "write_wav", wav_then_interrupt)
    result = runner.invoke(app, ["generate", "-m", str(model), "-o", str(tmp_path / "g.mid"), "-n", "3",
                                 "--wav", str(tmp_path / "g.wav"), "--steps", "16", "--gibbs-steps", "2"])
    assert result.exit_code == 130
    (line,) = result.stderr.strip().splitlines()
    assert listed_files(line) == {"g-1.mid", "g-1.wav", "g-2.mid"} == {p.name for p in tmp_path.iterdir()}


def test_too_little_disk_for_the_wav_files_is_found_before_sampling(model, tmp_path, monkeypatch):
    import shutil

    import rnnrbm.sample
    from rnnrbm.sample_io import WAV_RATE, output_bytes

    def never(*args, **kwargs):
        raise AssertionError("sampling started")

    # 2 pieces of 4,000 steps at 100 qpm, 4 steps per beat: 600 s of audio each, about 26 MB.
    midi, audio = output_bytes(4000, 0.15)
    assert audio == pytest.approx(2 * WAV_RATE * 602, abs=1)
    free = 2 * (midi + audio) - 1
    monkeypatch.setattr(rnnrbm.sample, "sample_roll", never)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=10**12, used=0, free=free))
    result = runner.invoke(app, ["generate", "-m", str(model), "-o", str(tmp_path / "g.mid"), "-n", "2",
                                 "--steps", "4000", "--wav", str(tmp_path / "g.wav")])
    assert result.exit_code == 2 and "not enough disk space" in result.stderr, result.output
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=10**12, used=0, free=free + 1))
    result = runner.invoke(app, ["generate", "-m", str(model), "-o", str(tmp_path / "g.mid"), "-n", "2",
                                 "--steps", "4000", "--wav", str(tmp_path / "g.wav")])
    assert result.exit_code == 1 and isinstance(result.exception, AssertionError)  # got as far as sampling


def test_a_wav_too_long_to_build_in_memory_is_refused_before_sampling(model, tmp_path, monkeypatch):
    import rnnrbm.sample

    monkeypatch.setattr(rnnrbm.sample, "sample_roll", lambda *a, **k: pytest.fail("sampling started"))
    args = ["generate", "-m", str(model), "-o", str(tmp_path / "g.mid"), "--wav", str(tmp_path / "g.wav")]
    result = runner.invoke(app, [*args, "--seconds", "3700"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "--wav renders at most 60 minutes" in line and "62 minutes" in line and "leave out --wav" in line
    assert not list(tmp_path.iterdir())
    monkeypatch.undo()
    assert runner.invoke(app, ["generate", "-m", str(model), "-o", str(tmp_path / "g.mid"), "--seconds", "3700",
                               "--gibbs-steps", "1"]).exit_code == 0  # MIDI alone has no such limit
