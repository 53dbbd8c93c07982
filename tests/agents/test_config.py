import os
import stat
import tomllib
from pathlib import Path

import pytest

from agents.config import ConfigError, default_config_path, load_config, set_top_level, write_config_text

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "agent.toml.example"


def write(tmp_path, text):
    path = tmp_path / "agent.toml"
    path.write_text('server = "http://127.0.0.1:8000"\ntoken = "rw_x"\n' + text)
    return path


def test_the_documented_example_config_is_valid_and_read_in_full():
    cfg = load_config(EXAMPLE)
    assert cfg.server == "https://roofwatch.example.com" and cfg.cpus == [0, 1] and cfg.max_load == 0.5
    assert [b.model for b in cfg.benchmarks] == ["mlp", "dlrm", "mlp", "mlp", "onnx"]
    assert [b.backend for b in cfg.benchmarks] == ["engine", "engine", "onnxruntime", "engine", "engine"]
    assert cfg.benchmarks[3].sweep["budget_s"] == 300 and cfg.benchmarks[3].sweep["pin"] == ["off", "on"]
    assert [b.sweep is None for b in cfg.benchmarks] == [True, True, True, False, True]
    assert cfg.benchmarks[4].params == {"path": "models/ranker.onnx", "batch": 32, "input_ranges": {"ids": [0, 1000]}}
    assert cfg.benchmarks[1].repeats == 20 and cfg.benchmarks[0].params == {"batch": 64}
    assert cfg.repository == Path("/srv/src/roofwatch") and cfg.lease_seconds == 900
    assert (cfg.benchmarks[1].target_ci, cfg.benchmarks[1].budget_s) == (1.0, 60.0)
    assert (cfg.benchmarks[0].target_ci, cfg.benchmarks[0].budget_s) == (None, None)


def test_an_unknown_key_is_named_with_the_file_and_the_known_keys(tmp_path):
    path = write(tmp_path, "[quiet]\nmax_laod = 1.0\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}: quiet.max_laod: unknown key; expected one of ")
    assert "max_load" in str(e.value)


def test_a_wrong_type_names_the_key_and_the_expected_type(tmp_path):
    with pytest.raises(ConfigError, match=r"agent.toml: measurement.repeats: expected an integer >= 1, got '10'"):
        load_config(write(tmp_path, '[measurement]\nrepeats = "10"\n'))
    with pytest.raises(ConfigError, match=r"measurement.cpus: expected a list of CPU numbers"):
        load_config(write(tmp_path, "[measurement]\ncpus = [0, -1]\n"))
    with pytest.raises(ConfigError, match=r"benchmarks\[1\].config.passes: expected a list of pass names"):
        load_config(write(tmp_path, '[[benchmarks]]\nmodel = "mlp"\n[[benchmarks]]\nmodel = "mlp"\n'
                                    "[benchmarks.config]\npasses = 3\n"))
    with pytest.raises(ConfigError, match=r"schedule.lease_seconds: expected an integer from 30 to 3600, got 7200"):
        load_config(write(tmp_path, "[schedule]\nlease_seconds = 7200\n"))
    with pytest.raises(ConfigError, match=r"warmup: expected an integer >= 0, got True"):
        load_config(write(tmp_path, "[measurement]\nwarmup = true\n"))


def test_a_missing_token_says_which_file_and_how_to_get_one(tmp_path):
    path = tmp_path / "agent.toml"
    path.write_text('server = "http://x:1"\n')
    with pytest.raises(ConfigError, match=r"agent.toml: token: missing; expected a string .*register"):
        load_config(path)


def test_a_benchmark_without_a_model_and_bad_toml_are_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"benchmarks\[0\].model: missing"):
        load_config(write(tmp_path, "[[benchmarks]]\nrepeats = 3\n"))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[schedule\n"))
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")


def test_the_default_path_follows_xdg_config_home(tmp_path, monkeypatch):
    monkeypatch.delenv("ROOFWATCH_AGENT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_config_path() == tmp_path / "roofwatch" / "agent.toml"


def test_writing_a_config_is_atomic_mode_0600_and_keeps_comments(tmp_path):
    path = tmp_path / "sub" / "agent.toml"
    text = '# mine\nserver = "http://old:1"\ntoken = "old"\n[measurement]\nrepeats = 7  # keep\n'
    write_config_text(path, set_top_level(text, {"server": "http://new:2", "token": 'rw_"q\\'}))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    written = path.read_text()
    assert "# mine" in written and "repeats = 7  # keep" in written
    doc = tomllib.loads(written)
    assert doc["token"] == 'rw_"q\\' and doc["server"] == "http://new:2"
    assert [p.name for p in path.parent.iterdir()] == ["agent.toml"]  # no temp file left


def test_an_invalid_config_is_never_written(tmp_path):
    path = tmp_path / "agent.toml"
    with pytest.raises(ConfigError, match="token: missing"):
        write_config_text(path, 'server = "http://x:1"\n')
    assert not path.exists()


BENCH = '[[benchmarks]]\nmodel = "dlrm"\n[benchmarks.config]\n'


@pytest.mark.parametrize(("text", "message"), [
    ("target_ci = 0", r"benchmarks\[0\].config.target_ci: expected a percent between 0 and 100 \(exclusive\), got 0"),
    ("target_ci = 100.0", r"config.target_ci: expected a percent between 0 and 100 \(exclusive\), got 100.0"),
    ('target_ci = "1%"', r"config.target_ci: expected a percent between 0 and 100 \(exclusive\), got '1%'"),
    ("target_ci = true", r"config.target_ci: expected a percent .*, got True"),
    ("target_ci = 1\nbudget_s = 0", r"benchmarks\[0\].config.budget_s: expected a number > 0, got 0"),
    ("budget_s = 30", r"benchmarks\[0\].config.budget_s: bounds target_ci's extra repeats; "
                      r"set benchmarks\[0\].config.target_ci too"),
])
def test_a_bad_precision_target_names_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, BENCH + text + "\n"))


def test_a_budget_that_the_run_timeout_would_cut_short_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"benchmarks\[0\].config.budget_s: 600 s does not fit in "
                                          r"measurement.timeout_seconds \(300 s\)"):
        load_config(write(tmp_path, "[measurement]\ntimeout_seconds = 300\n" + BENCH + "target_ci = 2\nbudget_s = 600\n"))
    cfg = load_config(write(tmp_path, BENCH + "target_ci = 2\nbudget_s = 90.5\n"))
    assert (cfg.benchmarks[0].target_ci, cfg.benchmarks[0].budget_s) == (2.0, 90.5)
