"""``rnnrbm train`` end to end in tmp_path, and its argument errors."""

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import write_chord_songs
from rnnrbm.checkpoint import load_checkpoint
from rnnrbm.cli import app

runner = CliRunner()
FAST = ["--epochs", "1", "--hidden", "8", "--recurrent", "6", "--cd-k", "1", "--batch", "2", "--chunk", "8", "--quiet"]


@pytest.fixture
def songs(tmp_path):
    return write_chord_songs(tmp_path / "songs", 6)


def test_train_a_midi_folder_writes_loadable_checkpoints(tmp_path, songs):
    out = tmp_path / "run" / "m.npz"
    result = runner.invoke(app, ["train", str(songs), "-o", str(out), *FAST, "--valid-fraction", "0.2"])
    assert result.exit_code == 0, result.output
    ckpt = load_checkpoint(out)
    assert (ckpt.meta["low"], ckpt.meta["high"], ckpt.meta["steps_per_beat"]) == (60, 95, 4)
    assert ckpt.model_config.n_visible == 36 and ckpt.model_config.n_hidden == 8
    assert ckpt.meta["train"]["cd_k"] == 1 and ckpt.meta["epoch"] == 1
    assert load_checkpoint(tmp_path / "run" / "m.last.npz").opt  # resume state is there
    assert (tmp_path / "run" / "m.log.jsonl").read_text().count("\n") == 1


def test_skipped_files_are_named_in_one_warning_line(tmp_path, songs):
    (songs / "broken.mid").write_bytes(b"MThd not really")
    result = runner.invoke(app, ["train", str(songs), "-o", str(tmp_path / "m.npz"), *FAST])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: skipped 1 input(s) (truncated: 1); `rnnrbm ingest` on the same inputs "
                        "lists them"]


def test_count_bias_is_learned_kept_on_resume_and_used_by_generate(tmp_path, songs):
    out = tmp_path / "m.npz"
    assert runner.invoke(app, ["train", str(songs), "-o", str(out), *FAST, "--count-bias"]).exit_code == 0
    first = load_checkpoint(tmp_path / "m.last.npz")
    assert first.model_config.count_bias and first.params["bn"].shape == (37,)
    assert np.any(first.params["bn"] != 0)  # learned from the counts of the data and the chains
    result = runner.invoke(app, ["train", str(songs), "-o", str(out), *FAST[2:], "--epochs", "2", "--resume"])
    assert result.exit_code == 0, result.output
    again = load_checkpoint(tmp_path / "m.last.npz")
    assert again.model_config.count_bias and again.meta["epoch"] == 2
    result = runner.invoke(app, ["generate", "-m", str(out), "-o", str(tmp_path / "g.mid"), "--steps", "16",
                                 "--seed", "1", "--no-preview"])
    assert result.exit_code == 0, result.output


def test_train_resume_extends_the_run(tmp_path, songs):
    out = tmp_path / "m.npz"
    assert runner.invoke(app, ["train", str(songs), "-o", str(out), *FAST]).exit_code == 0
    args = ["train", str(songs), "-o", str(out), *FAST[2:], "--epochs", "2", "--resume"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert load_checkpoint(tmp_path / "m.last.npz").meta["epoch"] == 2


@pytest.mark.parametrize("args, message", [
    (["--cd-k", "0"], "--cd-k"),
    (["--negative-p", "0.3"], "--negative-p"),
    (["--low", "C6", "--high", "C4"], "above high note"),
    (["--gradient", "magic"], "--gradient"),
    (["--cd-start", "model"], "--cd-start"),
    (["--lr-decay-from", "3"], "--lr-decay below 1"),
])
def test_bad_options_exit_2_with_one_line(tmp_path, songs, args, message):
    result = runner.invoke(app, ["train", str(songs), "-o", str(tmp_path / "m.npz"), *FAST, *args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_missing_data_and_unwritable_output_fail_before_training(tmp_path, songs):
    result = runner.invoke(app, ["train", str(tmp_path / "nothing"), "-o", str(tmp_path / "m.npz"), *FAST])
    assert result.exit_code == 2 and "nothing" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["train", str(songs), "-o", str(blocker / "m.npz"), *FAST])
    assert result.exit_code == 2 and "cannot write" in result.output


def test_training_on_a_corpus_keeps_its_range(tmp_path, songs):
    corpus = tmp_path / "c.npz"
    assert runner.invoke(app, ["ingest", str(songs), "-o", str(corpus), "--low", "C3", "--high", "C6"]).exit_code == 0
    out = tmp_path / "m.npz"
    result = runner.invoke(app, ["train", str(corpus), "-o", str(out), *FAST])
    assert result.exit_code == 0, result.output
    assert (load_checkpoint(out).meta["low"], load_checkpoint(out).meta["high"]) == (48, 84)


def test_error_lines_keep_brackets(tmp_path):
    result = runner.invoke(app, ["train", str(tmp_path / "br [x]" / "nope"), "-o", str(tmp_path / "m.npz"), *FAST])
    assert result.exit_code == 2 and "br [x]" in result.output


def test_ctrl_c_saves_and_exits_130(tmp_path, songs):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "m.npz"
    args = [sys.executable, "-m", "rnnrbm", "train", str(songs), "-o", str(out), *FAST, "--epochs", "100000"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "m.last.npz").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # no effect once it has exited; a failed test leaves no training behind
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    last = load_checkpoint(tmp_path / "m.last.npz")
    assert last.meta["interrupted"] is True and last.opt
    assert load_checkpoint(out).meta["epoch"] >= 1
