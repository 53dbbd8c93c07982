"""An agent benchmark can name its backend: config, engine arguments, jobs."""
import pytest

from agents.config import ConfigError, load_config
from agents.jobs_client import Job
from agents.runner import engine_args


def write(tmp_path, text):
    path = tmp_path / "agent.toml"
    path.write_text('server = "http://127.0.0.1:8000"\ntoken = "rw_x"\n' + text)
    return path


def test_a_benchmark_names_the_onnxruntime_backend_and_the_engine_gets_it(tmp_path):
    cfg = load_config(write(tmp_path, '[[benchmarks]]\nmodel = "mlp"\n[benchmarks.config]\nbackend = "onnxruntime"\n'))
    spec = cfg.benchmarks[0]
    assert spec.backend == "onnxruntime"
    args = engine_args(spec.model, tmp_path / "r.json", backend=spec.backend)
    assert args[-2:] == ["--backend", "onnxruntime"]


def test_the_engine_backend_adds_no_argument_so_older_engines_still_run(tmp_path):
    cfg = load_config(write(tmp_path, '[[benchmarks]]\nmodel = "mlp"\n'))
    assert cfg.benchmarks[0].backend == "engine"
    assert "--backend" not in engine_args("mlp", tmp_path / "r.json", backend="engine")


def test_an_unknown_backend_is_named_with_the_choices(tmp_path):
    with pytest.raises(ConfigError, match=r"benchmarks\[0\].config.backend: expected one of 'engine', "
                                          r"'onnxruntime', got 'tvm'"):
        load_config(write(tmp_path, '[[benchmarks]]\nmodel = "mlp"\n[benchmarks.config]\nbackend = "tvm"\n'))


@pytest.mark.parametrize("line, key", [('passes = ["all"]', "passes"), ('quant = "int8"', "quant"),
                                       ('inject = ["compute:fc1:2"]', "inject"), ("target_ci = 1.0", "target_ci")])
def test_engine_only_options_are_refused_with_onnxruntime(tmp_path, line, key):
    text = f'[[benchmarks]]\nmodel = "mlp"\n[benchmarks.config]\nbackend = "onnxruntime"\n{line}\n'
    with pytest.raises(ConfigError, match=rf"benchmarks\[0\].config.{key}: not supported with backend 'onnxruntime'"):
        load_config(write(tmp_path, text))


def test_a_job_takes_its_backend_from_config_or_from_an_onnxruntime_runs_params():
    base = {"id": 1, "lease": "l", "benchmark": {"model": "mlp", "params": {"batch": 4}}}
    assert Job.from_json({**base, "config": {"backend": "onnxruntime"}}).spec.backend == "onnxruntime"
    job = Job.from_json({**base, "benchmark": {"model": "mlp", "params": {"batch": 4, "backend": "onnxruntime"}}})
    assert job.spec.backend == "onnxruntime" and job.spec.params == {"batch": 4}
    assert Job.from_json(base).spec.backend == "engine"
