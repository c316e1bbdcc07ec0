"""``rnnrbm evaluate`` end to end on a small checkpoint and a tiny benchmark JSON file."""

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import write_chord_songs
from test_robust_cli import template_regex, troubleshooting_table
from rnnrbm.checkpoint import Checkpoint, save_checkpoint
from rnnrbm.cli import app
from rnnrbm.cli.evaluate import JSON_KEYS_HELP
from rnnrbm.corpus import Corpus
from rnnrbm.evaluate import LL_AGREE_TOL
from rnnrbm.model import ModelConfig, init_params

runner = CliRunner()
LOW, HIGH = 60, 71
FAST = ["--acc-gibbs", "2", "--acc-samples", "2", "--quiet"]
KEYS = {"model", "data", "split", "skipped", "pieces", "steps", "n_visible", "temperature", "ll", "ll_stderr", "ais_stderr",
        "ll_impossible", "log_z", "ll_reverse", "ll_reverse_ais_stderr", "ll_gap", "ll_agree",
        "ais_runs", "ais_betas", "acc_step", "acc_step_stderr", "acc", "acc_gibbs", "acc_samples", "baseline_ll", "seed", "seconds",
        "data_stats", "samples"}
STAT_KEYS = {"pieces", "steps", "notes_per_step_mean", "notes_per_step_std", "notes_per_step_dist",
             "notes_per_step_js", "polyphony_p99", "above_p99_threshold", "above_p99_rate", "silence_rate",
             "pitch_class_dist", "pitch_class_js", "pitch_class_entropy", "scale_consistency"}


@pytest.fixture
def model(tmp_path):
    config = ModelConfig(HIGH - LOW + 1, 6, 5)
    params = init_params(config, np.random.default_rng(0))
    meta = {"low": LOW, "high": HIGH, "steps_per_beat": 1, "out_of_range": "fold", "qpm": 100.0,
            "model": {"n_visible": config.n_visible, "n_hidden": 6, "n_recurrent": 5},
            "ingest": {"pedal": True, "transpose_to_c": False}}
    save_checkpoint(tmp_path / "m.npz", Checkpoint(params, meta))
    return tmp_path / "m.npz"


@pytest.fixture
def bench(tmp_path):
    chords = [[60, 64, 67], [62, 65, 69], [59, 62, 67], [60, 64, 67, 72]]
    piece = lambda n, shift: [[p + shift for p in chords[t % 4]] for t in range(n)]  # noqa: E731
    data = {"train": [piece(12, 0)], "valid": [piece(8, 2)], "test": [piece(10, 0), piece(6, 5)]}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    return path


def test_json_output_has_the_documented_keys(model, bench):
    result = runner.invoke(app, ["evaluate", "-m", str(model), str(bench), "--json", *FAST,
                                 "--samples", "2", "--sample-steps", "8"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == KEYS
    assert out["split"] == "test" and out["pieces"] == 2 and out["steps"] == 16 and out["n_visible"] == 12
    assert out["baseline_ll"] == pytest.approx(12 * np.log(0.5))
    assert out["ll"] < 0 and 0 <= out["acc"] <= 1 and 0 <= out["acc_step"] <= 1 and out["log_z"] == "exact"
    assert out["ll_impossible"] == 0
    assert out["ll_reverse"] is out["ll_reverse_ais_stderr"] is out["ll_gap"] is out["ll_agree"] is None
    assert set(out["data_stats"]) == STAT_KEYS and set(out["samples"]["stats"]) == STAT_KEYS
    assert out["samples"]["pieces"] == 2 and out["data"] == [str(bench)]


def test_log_z_none_skips_the_log_likelihood_and_keeps_the_same_accuracy(model, bench):
    runs = {}
    for log_z in ("none", "ais"):
        result = runner.invoke(app, ["evaluate", "-m", str(model), str(bench), "--json", *FAST, "--log-z", log_z,
                                     "--ais-runs", "3", "--ais-betas", "5"])
        assert result.exit_code == 0, result.output
        runs[log_z] = json.loads(result.stdout)
    none, ais = runs["none"], runs["ais"]
    assert set(none) == KEYS and none["log_z"] == "none" and none["steps"] == ais["steps"] == 16
    assert none["ll"] is none["ll_stderr"] is none["ais_stderr"] is none["ll_impossible"] is None
    assert "ll" not in none["seconds"] and ais["ll"] < 0
    # The accuracy draws have their own random stream: skipping AIS does not change them.
    assert (none["acc_step"], none["acc"]) == (ais["acc_step"], ais["acc"])
    table = runner.invoke(app, ["evaluate", "-m", str(model), str(bench), *FAST, "--log-z", "none"])
    assert table.exit_code == 0, table.output
    assert "not computed (--log-z none)" in table.stdout and "expected accuracy" in table.stdout


def test_skipped_inputs_are_counted_and_warned_about(model, tmp_path):
    songs = write_chord_songs(tmp_path / "songs", 3)
    (songs / "empty.mid").write_bytes(b"")
    result = runner.invoke(app, ["evaluate", "-m", str(model), str(songs), "--split", "all", "--json", *FAST])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["skipped"] == {"empty file": 1}
    assert "warning: skipped 1 input(s) (empty file: 1)" in result.stderr


def test_ais_and_reverse_ais_are_reproducible_and_close_to_exact(model, bench):
    def run(*args):
        result = runner.invoke(app, ["evaluate", "-m", str(model), str(bench), "--json", *FAST, *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    exact = run("--log-z", "exact")
    ais = run("--log-z", "ais", "--ais-runs", "20", "--ais-betas", "200", "--seed", "3")
    assert ais["log_z"] == "ais" and ais["ais_runs"] == 20 and ais["ais_betas"] == 200
    assert ais["ll"] == pytest.approx(exact["ll"], abs=0.02)
    assert run("--log-z", "ais", "--ais-runs", "20", "--ais-betas", "200", "--seed", "3")["ll"] == ais["ll"]
    reverse = run("--log-z", "raise", "--ais-runs", "20", "--ais-betas", "200", "--seed", "3")
    assert reverse["log_z"] == "raise" and reverse["ll"] != ais["ll"] and reverse["ais_stderr"] > 0
    assert reverse["ll"] == pytest.approx(exact["ll"], abs=0.02)
    table = runner.invoke(app, ["evaluate", "-m", str(model), str(bench), *FAST, "--log-z", "raise",
                                "--ais-runs", "20", "--ais-betas", "200"])
    assert "reverse AIS, 20 runs x 200" in " ".join(table.stdout.split())  # the table may wrap


@pytest.fixture
def sharp(tmp_path):
    # Pairs (v_j, h_j) tied by 20 behind a barrier, notes favoured: two AIS temperatures from all-off
    # miss the likely dense states, so some steps' log p comes out above 0.
    params = {k: np.zeros_like(a) for k, a in init_params(ModelConfig(12, 12, 5), np.random.default_rng(0)).items()}
    params["W"] = 20 * np.eye(12, dtype=np.float32)
    params["bv"][:], params["bh"][:] = -9, -10
    meta = {"low": LOW, "high": HIGH, "steps_per_beat": 1, "model": {"n_visible": 12, "n_hidden": 12, "n_recurrent": 5}}
    save_checkpoint(tmp_path / "sharp.npz", Checkpoint(params, meta))
    return tmp_path / "sharp.npz"


def test_a_log_z_far_too_low_is_warned_about(sharp, model, bench):
    args = ["evaluate", "-m", str(sharp), str(bench), "--json", *FAST]
    rough = runner.invoke(app, [*args, "--log-z", "ais", "--ais-runs", "2", "--ais-betas", "2"])
    assert rough.exit_code == 0, rough.output
    out = json.loads(rough.stdout)
    assert out["ll_impossible"] > 0
    warning = [line for line in rough.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and f"log-likelihood of {out['ll_impossible']} of 16 steps above 0" in warning[0]
    readme = [m for _, code, m in troubleshooting_table() if code == "warning, run goes on" and "above 0" in m]
    assert len(readme) == 1 and template_regex(readme[0]).fullmatch(warning[0]), (readme, warning)
    exact = runner.invoke(app, [*args, "--log-z", "exact"])
    assert json.loads(exact.stdout)["ll_impossible"] == 0 and "warning" not in exact.stderr
    assert "warning" not in runner.invoke(app, ["evaluate", "-m", str(model), str(bench), *FAST]).stderr


def test_log_z_both_reports_reverse_ais_beside_ais_and_warns_where_they_disagree(sharp, model, bench):
    def run(path, *args):
        result = runner.invoke(app, ["evaluate", "-m", str(path), str(bench), "--json", *FAST, *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout), [line for line in result.stderr.splitlines() if "disagree" in line]

    # Converged (the settings the test above finds within 0.02 of exact, both ways): they agree, no warning.
    settings = ["--ais-runs", "20", "--ais-betas", "200", "--seed", "3"]
    both, warnings = run(model, "--log-z", "both", *settings)
    ais, raise_ = run(model, "--log-z", "ais", *settings)[0], run(model, "--log-z", "raise", *settings)[0]
    assert both["log_z"] == "both" and both["ll"] == ais["ll"] and both["ais_stderr"] == ais["ais_stderr"]
    assert both["ll_reverse"] == raise_["ll"] and both["ll_reverse_ais_stderr"] == raise_["ais_stderr"]
    assert both["ll_gap"] == pytest.approx(ais["ll"] - raise_["ll"]) and both["ll_agree"] is True and not warnings
    table = runner.invoke(app, ["evaluate", "-m", str(model), str(bench), *FAST, "--log-z", "both", *settings])
    assert "agrees with AIS" in " ".join(table.stdout.split())
    # Two temperatures on a sharp model: AIS far too high, reverse AIS far too low, and a warning.
    rough, warnings = run(sharp, "--log-z", "both", "--ais-runs", "2", "--ais-betas", "2")
    assert rough["ll_gap"] > 1 and rough["ll_agree"] is False
    readme = [m for _, code, m in troubleshooting_table() if code == "warning, run goes on" and "disagree" in m]
    assert len(warnings) == 1 and len(readme) == 1 and template_regex(readme[0]).fullmatch(warnings[0])
    assert f"disagree by {rough['ll_gap']:.3f} nats" in warnings[0]
    assert f"ll_agree (|ll_gap| <= {LL_AGREE_TOL:g} nats)" in JSON_KEYS_HELP  # the help states the tolerance used


def test_table_output(model, bench):
    result = runner.invoke(app, ["evaluate", "-m", str(model), str(bench), "--split", "all", *FAST,
                                 "--samples", "1", "--sample-steps", "8"])
    assert result.exit_code == 0, result.output
    for text in ("log-likelihood / step", "expected accuracy", "random baseline", "-8.32", "4 pieces",
                 "pitch-class entropy", "scale consistency", "samples (1 x 8 steps)"):
        assert text in result.stdout


def test_temperature_is_reported_and_changes_the_figures(model, bench):
    runs = {t: runner.invoke(app, ["evaluate", "-m", str(model), str(bench), *FAST, "--log-z", "exact",
                                   "--temperature", t, "--json"])
            for t in ("1", "0.5")}
    outs = {t: json.loads(r.stdout) for t, r in runs.items()}
    assert outs["1"]["temperature"] == 1 and outs["0.5"]["temperature"] == 0.5
    assert outs["1"]["ll"] != pytest.approx(outs["0.5"]["ll"], abs=1e-3)
    table = runner.invoke(app, ["evaluate", "-m", str(model), str(bench), *FAST, "--temperature", "0.5"])
    assert table.exit_code == 0 and "at temperature 0.5" in table.stdout


@pytest.mark.parametrize("args, code, message", [
    (["--ais-runs", "0"], 2, "--ais-runs"),
    (["--ais-betas", "1"], 2, "--ais-betas"),
    (["--split", "dev"], 2, "--split"),
    (["--log-z", "exact", "--split", "nothing"], 2, "--split"),
    (["--temperature", "0"], 2, "--temperature"),
])
def test_bad_options(model, bench, args, code, message):
    result = runner.invoke(app, ["evaluate", "-m", str(model), str(bench), *FAST, *args])
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output


def test_missing_model_and_data(tmp_path, model, bench):
    result = runner.invoke(app, ["evaluate", "-m", str(tmp_path / "none.npz"), str(bench), *FAST])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["evaluate", "-m", str(model), str(tmp_path / "none.json"), *FAST])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_empty_split_and_other_grid(tmp_path, model):
    rolls = [np.eye(12, dtype=np.uint8)] * 2
    Corpus.from_pieces(rolls, ["a", "b"], ["train", "valid"],
                       {"low": LOW, "high": HIGH, "steps_per_beat": 1}).save(tmp_path / "c.npz")
    result = runner.invoke(app, ["evaluate", "-m", str(model), str(tmp_path / "c.npz"), *FAST])
    assert result.exit_code == 2 and "train (1), valid (1)" in result.output
    Corpus.from_pieces(rolls, ["a", "b"], ["test", "test"],
                       {"low": LOW, "high": HIGH, "steps_per_beat": 4}).save(tmp_path / "d.npz")
    result = runner.invoke(app, ["evaluate", "-m", str(model), str(tmp_path / "d.npz"), *FAST])
    assert result.exit_code == 2 and "steps per beat" in result.output and "Traceback" not in result.output


def test_help_does_not_import_numba():
    code = ("import sys; from typer.testing import CliRunner; from rnnrbm.cli import app; "
            "r = CliRunner().invoke(app, ['evaluate', '--help']); assert r.exit_code == 0, r.output; "
            "assert '--ais-betas' in r.output; assert 'numba' not in sys.modules, 'numba imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_defaults_are_the_library_defaults():
    # The CLI spells its defaults out so that --help does not import NumPy and Numba.
    import dataclasses
    import inspect

    from rnnrbm.cli.evaluate import evaluate as command
    from rnnrbm.evaluate import EvaluateOptions

    cli = {name: p.default.default for name, p in inspect.signature(command).parameters.items()}
    library = {f.name: f.default for f in dataclasses.fields(EvaluateOptions) if f.name in cli}
    assert {"acc_gibbs", "acc_samples", "ais_runs", "ais_betas", "sample_gibbs", "seed", "split"} <= set(library)
    assert {name: cli[name] for name in library} == library
