"""``rnnrbm generate`` end to end with CliRunner, its report and preview, and its argument errors."""

import re
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pretty_midi
import pytest
from typer.testing import CliRunner

from rnnrbm.checkpoint import Checkpoint, save_checkpoint
from rnnrbm.cli import app
from rnnrbm.cli.generate import preview_lines
from rnnrbm.midi import write_midi
from rnnrbm.model import ModelConfig, init_params
from rnnrbm.sample import default_model_path

runner = CliRunner()
CFG = ModelConfig(36, 16, 10)
META = {"low": 60, "high": 95, "steps_per_beat": 4, "out_of_range": "fold", "qpm": 100, "model": asdict(CFG)}
FAST = ["--steps", "48", "--gibbs-steps", "3"]


@pytest.fixture
def model(tmp_path):
    params = init_params(CFG, np.random.default_rng(0))
    params["bv"][:] = -1.5
    path = tmp_path / "model.npz"
    save_checkpoint(path, Checkpoint(params, dict(META)))
    return path


def run(*args):
    return runner.invoke(app, ["generate", *map(str, args)])


def test_generate_end_to_end(tmp_path, model):
    out = tmp_path / "song.mid"
    result = run("-o", out, "-m", model, "--seed", 42, *FAST, "--program", 40, "--velocity", 100, "--qpm", 120)
    assert result.exit_code == 0, result.output
    assert "seed 42" in result.output and "song.mid" in result.output and "notes/step" in result.output
    assert "C4" in result.output and "│" in result.output  # preview labelled at C's
    pm = pretty_midi.PrettyMIDI(str(out))
    (instrument,) = pm.instruments
    assert instrument.program == 40 and instrument.notes
    assert all(n.velocity == 100 and 60 <= n.pitch <= 95 for n in instrument.notes)
    assert pm.get_tempo_changes()[1][0] == pytest.approx(120)
    assert pm.get_end_time() <= 48 * 60 / 120 / 4 + 1e-9


def test_same_seed_same_bytes_and_random_seed_is_printed(tmp_path, model):
    assert run("-o", tmp_path / "a.mid", "-m", model, "--seed", 7, *FAST).exit_code == 0
    assert run("-o", tmp_path / "b.mid", "-m", model, "--seed", 7, *FAST).exit_code == 0
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()
    result = run("-o", tmp_path / "c.mid", "-m", model, *FAST, "--no-preview")
    assert result.exit_code == 0, result.output
    seed = int(re.search(r"seed (\d+) \(chosen at random", result.output).group(1))
    assert "│" not in result.output
    assert run("-o", tmp_path / "d.mid", "-m", model, "--seed", seed, *FAST).exit_code == 0
    assert (tmp_path / "c.mid").read_bytes() == (tmp_path / "d.mid").read_bytes()


def test_options_change_the_output(tmp_path, model):
    base = ["-m", model, "--seed", 3, "--steps", 48]
    variants = {"base": [], "hot": ["--temperature", "2"], "k": ["--gibbs-steps", "7"], "bars": ["--bars", "4"]}
    for name, extra in variants.items():
        args = list(base) if name != "bars" else ["-m", model, "--seed", 3]
        assert run("-o", tmp_path / f"{name}.mid", *args, *extra).exit_code == 0
    data = {name: (tmp_path / f"{name}.mid").read_bytes() for name in variants}
    assert data["hot"] != data["base"] and data["k"] != data["base"]
    assert pretty_midi.PrettyMIDI(str(tmp_path / "bars.mid")).get_end_time() <= 4 * 4 * 0.6 + 1e-9  # 4 bars at 100 qpm


def test_num_outputs_and_wav(tmp_path, model):
    result = run("-o", tmp_path / "t.mid", "-m", model, "--seed", 1, *FAST, "-n", 2, "--wav", tmp_path / "t.wav")
    assert result.exit_code == 0, result.output
    for i in (1, 2):
        assert (tmp_path / f"t-{i}.mid").is_file() and (tmp_path / f"t-{i}.wav").is_file()
        assert f"t-{i}.mid" in result.output
    assert not (tmp_path / "t.mid").exists()


def test_primer_kept(tmp_path, model):
    primer = np.zeros((8, 36), np.uint8)
    primer[:4, [0, 4, 7]] = 1
    primer[4:, [5, 9, 12]] = 1
    write_midi(primer, tmp_path / "p.mid", low=60)
    result = run("-o", tmp_path / "o.mid", "-m", model, "--seed", 1, *FAST, "--primer", tmp_path / "p.mid",
                 "--keep-primer")
    assert result.exit_code == 0, result.output
    notes = sorted(((n.start, n.pitch) for n in pretty_midi.PrettyMIDI(str(tmp_path / "o.mid")).instruments[0].notes))
    assert notes[:3] == [(0.0, 60), (0.0, 64), (0.0, 67)]
    assert "|" in result.output  # the preview marks the primer's end


def _one_line_error(result):
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "--steps"),
    (["--steps", "-3"], "--steps"),
    (["--temperature", "0"], "--temperature"),
    (["--temperature", "-0.5"], "--temperature"),
    (["--gibbs-steps", "0"], "--gibbs-steps"),
    (["--steps", "8", "--seconds", "3"], "only one of"),
    (["--bars", "0"], "--bars"),
    (["--velocity", "0"], "--velocity"),
    (["--program", "200"], "--program"),
    (["-n", "0"], "--num-outputs"),
    (["--keep-primer"], "--keep-primer needs --primer"),
    (["--primer", "nowhere.mid"], "does not exist"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, model, args, message):
    result = run("-o", tmp_path / "o.mid", "-m", model, *args)
    assert result.exit_code == 2
    assert message in _one_line_error(result)
    assert not (tmp_path / "o.mid").exists()


def test_bad_paths_exit_2_with_one_line(tmp_path, model):
    result = run("-o", tmp_path / "o.mid", "-m", tmp_path / "missing.npz")
    assert result.exit_code == 2 and "missing.npz does not exist" in _one_line_error(result)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("-o", blocker / "o.mid", "-m", model)
    assert result.exit_code == 2 and "cannot write" in _one_line_error(result)
    result = run("-o", tmp_path / "nofolder" / "o.mid", "-m", model)
    assert result.exit_code == 2 and "does not exist" in _one_line_error(result)
    result = run("-o", tmp_path / "o.wav", "-m", model)
    assert result.exit_code == 2 and ".mid" in _one_line_error(result)


def test_corrupt_model_is_one_line(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"\x00" * 10)
    result = run("-o", tmp_path / "o.mid", "-m", tmp_path / "bad.npz")
    assert result.exit_code == 1 and "not a readable rnnrbm checkpoint" in _one_line_error(result)


def test_ctrl_c_exits_cleanly_without_output(tmp_path, model, monkeypatch):
    import rnnrbm.sample as sample

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sample, "sample_roll", interrupted)
    result = run("-o", tmp_path / "o.mid", "-m", model, *FAST)
    assert result.exit_code == 130 and "interrupted" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_preview_draws_the_used_span_in_half_blocks():
    roll = np.zeros((160, 36), np.uint8)
    roll[:80, 12] = 1   # C5 in the first half
    roll[80:, 13] = 1   # C#5 in the second half
    lines = preview_lines(roll, 60, width=80)
    assert len(lines) == 2  # one row of two pitches + the ruler
    row = lines[0]
    assert row.startswith("  C5 │") and len(row) == len("  C5 │") + 80
    assert set(row[6:46]) == {"▄"} and set(row[46:]) == {"▀"}
    assert "160 steps, 2/column" in lines[-1]
    assert preview_lines(np.zeros((5, 36)), 60) == ["(silent)"]
    both = preview_lines(np.ones((3, 36), np.uint8), 60)
    assert len(both) == 18 + 1 and sum("C" in line.split("│")[0] for line in both) == 3


def test_help_does_not_import_numba():
    code = ("import sys; from typer.testing import CliRunner; from rnnrbm.cli import app; "
            "r = CliRunner().invoke(app, ['generate', '--help']); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('numba', 'numpy', 'pretty_midi') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.skipif(not default_model_path().is_file(), reason="the shipped models/default.npz is not there yet")
def test_shipped_model_generates(tmp_path):
    result = run("-o", tmp_path / "o.mid", "--seed", 0, "--steps", 64)
    assert result.exit_code == 0, result.output
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "o.mid"))
    from rnnrbm.checkpoint import load_checkpoint

    meta = load_checkpoint(default_model_path()).meta
    notes = [n for inst in pm.instruments for n in inst.notes]
    assert notes and all(meta["low"] <= n.pitch <= meta["high"] for n in notes)
