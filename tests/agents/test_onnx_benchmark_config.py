"""An ONNX file of the repository as a benchmark in the agent's TOML: model
"onnx" with params.path; every bad path or option is an error naming its key
(the same check as the platform's, engine.onnx_spec)."""
import pytest

from agents.config import ConfigError, load_config
from agents.runner import engine_args


def write(tmp_path, benchmark: str):
    path = tmp_path / "agent.toml"
    path.write_text('server = "http://127.0.0.1:8000"\ntoken = "rw_x"\n[[benchmarks]]\n' + benchmark)
    return path


def test_an_onnx_benchmark_is_read_with_its_options(tmp_path):
    cfg = load_config(write(tmp_path, 'model = "onnx"\nparams = { path = "m/net.onnx", batch = 4, '
                                      'input_ranges = { ids = [0, 10] } }\n'
                                      '[benchmarks.config]\npasses = ["fuse_linear_act"]\nflags = { v = 2 }\n'))
    (bench,) = cfg.benchmarks
    assert bench.model == "onnx" and bench.params["path"] == "m/net.onnx" and bench.flags == {"v": 2}


@pytest.mark.parametrize("params,key,message", [
    ("{ batch = 4 }", "benchmarks[0].params.path", "missing"),
    ('{ path = "/abs/net.onnx" }', "benchmarks[0].params.path", "no leading '/'"),
    ('{ path = "m/../../net.onnx" }', "benchmarks[0].params.path", "'..'"),
    ('{ path = "m/net.pt" }', "benchmarks[0].params.path", "ending in .onnx"),
    ('{ path = "m/net.onnx", batch = 0 }', "benchmarks[0].params.batch", "from 1 to"),
    ('{ path = "m/net.onnx", input_ranges = { ids = [5, 5] } }', "benchmarks[0].params.input_ranges",
     "hi > lo"),
    ('{ path = "m/net.onnx", seq = 3 }', "benchmarks[0].params.seq", "unknown key"),
])
def test_a_bad_onnx_benchmark_names_the_key(tmp_path, params, key, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f'model = "onnx"\nparams = {params}\n'))
    assert f"{key}: " in str(info.value) and message in str(info.value)


def test_the_engine_runs_the_file_with_its_repository_path(tmp_path):
    params = {"path": "m/net.onnx", "batch": 4, "input_ranges": {"ids": [0, 10]}}
    args = engine_args("onnx", tmp_path / "r.json", params=params, onnx_file="/wt/m/net.onnx", flags={"v": 2})
    assert args[:5] == ["run", "--onnx", "/wt/m/net.onnx", "--repo-path", "m/net.onnx"]
    assert args[args.index("--batch") + 1] == "4" and args[args.index("--input-range") + 1] == "ids=0:10"
    assert "--param" not in args and args[args.index("--flag") + 1] == "v=2"
    assert params["path"] == "m/net.onnx"  # the caller's params are left as they were


def test_run_once_with_model_onnx_says_the_path_goes_in_the_config(tmp_path, capsys):
    from agents.cli import main

    assert main(["run-once", "--model", "onnx", "--server", "http://127.0.0.1:9", "--token", "rw_x",
                 "--spool", str(tmp_path / "spool")]) == 2
    assert "--model onnx needs params.path" in capsys.readouterr().err
