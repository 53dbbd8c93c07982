"""A benchmark spec's sweep section: one check (engine.sweep.spec) for the
agent's TOML and the platform's schedules and jobs; bad keys are named."""
import pytest
from django.core.exceptions import ValidationError

from agents.config import ConfigError, load_config
from engine.sweep.spec import config_sweep_errors, sweep_args, sweep_errors
from fleet.job_spec import check_spec

GOOD = {"threads": [1], "batch": [4, 8], "instances": [1, 2], "pin": ["off", "0/1"], "passes": ["none", "all"],
        "quant": ["none"], "slo_p99_ms": 50, "max_evaluations": 3, "budget_s": 30, "rounds": 5}


def test_a_full_section_is_valid_and_becomes_the_engine_sweep_arguments():
    assert sweep_errors(GOOD) == {}
    args = sweep_args(GOOD, warmup=1, repeats=3)
    assert args[:6] == ["--threads", "1", "--batch", "4,8", "--instances", "1,2"]
    assert args[6:] == ["--pin", "off", "--pin", "0/1", "--passes", "none", "--passes", "all", "--quant", "none",
                        "--warmup", "1", "--repeats", "3", "--budget-s", "30", "--slo-p99-ms", "50",
                        "--max-evaluations", "3", "--rounds", "5"]
    assert "--rounds" not in sweep_args({"budget_s": 5}, warmup=0, repeats=2)  # absent: the engine's default
    assert sweep_args({"budget_s": 5}, warmup=0, repeats=1)[-2:] == ["--budget-s", "5"]  # repeats at least 2
    assert "2" in sweep_args({"budget_s": 5}, warmup=0, repeats=1)


@pytest.mark.parametrize("section,key,message", [
    ({}, "budget_s", "missing"),
    ({"budget_s": 0}, "budget_s", "> 0 and <= 86400"),
    ({"budget_s": 10 ** 6}, "budget_s", "<= 86400"),
    ({"budget_s": True}, "budget_s", "> 0"),
    ({"budget_s": 5, "threads": [0]}, "threads", "whole numbers >= 1"),
    ({"budget_s": 5, "batch": []}, "batch", "list of 1 to"),
    ({"budget_s": 5, "instances": "2"}, "instances", "list of 1 to"),
    ({"budget_s": 5, "pin": ["0-x"]}, "pin", "not a CPU number"),
    ({"budget_s": 5, "passes": [""]}, "passes", "non-empty strings"),
    ({"budget_s": 5, "slo_p99_ms": -1}, "slo_p99_ms", "> 0"),
    ({"budget_s": 5, "max_evaluations": 3}, "max_evaluations", "give slo_p99_ms too"),
    ({"budget_s": 5, "thread": [1]}, "thread", "unknown key"),
    ({"budget_s": 5, "rounds": 0}, "rounds", "from 1 to 100, got 0"),
    ({"budget_s": 5, "rounds": 101}, "rounds", "from 1 to 100, got 101"),
    ({"budget_s": 5, "rounds": 2.0}, "rounds", "whole number"),
    ({"budget_s": 5, "rounds": True}, "rounds", "whole number"),
    ({"budget_s": 5, "rounds": "3"}, "rounds", "whole number"),
])
def test_a_bad_section_names_the_key(section, key, message):
    errors = sweep_errors(section)
    assert key in errors and message in errors[key]


def test_config_keys_a_sweep_replaces_are_refused():
    errors = config_sweep_errors({"sweep": {"budget_s": 5}, "passes": ["all"], "target_ci": 2, "flags": {}})
    assert set(errors) == {"passes", "target_ci"}
    assert config_sweep_errors({"passes": ["all"]}) == {}  # no sweep: nothing to say


def write(tmp_path, text):
    path = tmp_path / "agent.toml"
    path.write_text('server = "http://127.0.0.1:8000"\ntoken = "rw_x"\n[measurement]\ntimeout_seconds = 120\n'
                    '[[benchmarks]]\nmodel = "mlp"\n' + text)
    return path


def test_the_agent_toml_carries_a_sweep_and_names_bad_keys(tmp_path):
    (bench,) = load_config(write(tmp_path, '[benchmarks.config.sweep]\nbatch = [4, 8]\nslo_p99_ms = 20\n'
                                           'budget_s = 60\nrounds = 2\n')).benchmarks
    assert bench.sweep == {"batch": [4, 8], "slo_p99_ms": 20, "budget_s": 60, "rounds": 2}
    for text, key in (('[benchmarks.config.sweep]\nbatch = [0]\nbudget_s = 6\n', "config.sweep.batch: "),
                      ('[benchmarks.config.sweep]\nbatch = [4]\n', "config.sweep.budget_s: missing"),
                      ('[benchmarks.config.sweep]\nbudget_s = 600\n', "config.sweep.budget_s: 600 s does not fit"),
                      ('[benchmarks.config]\npasses = ["all"]\nsweep = { budget_s = 6 }\n', "config.passes: "),
                      ('[benchmarks.config]\nbackend = "onnxruntime"\nsweep = { budget_s = 6 }\n',
                       "config.sweep: sweeps run the engine")):
        with pytest.raises(ConfigError) as info:
            load_config(write(tmp_path, text))
        assert f"benchmarks[0].{key}" in str(info.value), (text, str(info.value))


def test_the_agent_takes_a_sweep_of_an_onnx_file(tmp_path):
    path = tmp_path / "agent.toml"
    path.write_text('server = "http://127.0.0.1:8000"\ntoken = "rw_x"\n[[benchmarks]]\nmodel = "onnx"\n'
                    'params = { path = "m/a.onnx" }\n[benchmarks.config.sweep]\nbudget_s = 6\n')
    (bench,) = load_config(path).benchmarks
    assert bench.model == "onnx" and bench.sweep == {"budget_s": 6}


SPEC = {"model": "mlp", "params": {"batch": 8}, "warmup": 1, "repeats": 5, "timeout_seconds": 60}


def test_the_platform_spec_carries_a_sweep_and_names_bad_keys():
    check_spec(config={"sweep": {"batch": [4], "budget_s": 30, "rounds": 3}}, **SPEC)
    check_spec(config={"sweep": {"budget_s": 30}}, **{**SPEC, "model": "onnx", "params": {"path": "m/a.onnx"}})
    cases = [({"sweep": {"batch": [4]}}, {}, "config", "sweep.budget_s: missing"),
             ({"sweep": {"budget_s": 30, "pin": ["x"]}}, {}, "config", "sweep.pin: "),
             ({"sweep": {"budget_s": 30, "rounds": 0}}, {}, "config", "sweep.rounds: expected a whole number"),
             ({"sweep": {"budget_s": 30}, "quant": "int8"}, {}, "config", "quant: not used with a sweep"),
             ({"sweep": {"budget_s": 60}}, {}, "timeout_seconds", "config.sweep.budget_s"),
             ({"sweep": {"budget_s": 30}}, {"threads": 2}, "threads", "config.sweep.threads"),
             ({"sweep": {"budget_s": 30}}, {"model": "onnx", "params": {"path": "../a.onnx"}}, "params",
              "params.path: expected a normalized path")]
    for config, extra, field, message in cases:
        with pytest.raises(ValidationError) as info:
            check_spec(config=config, **{**SPEC, **extra})
        assert message in str(info.value.message_dict[field]), (config, info.value.message_dict)
