"""`run --onnx FILE --repo-path PATH`: a repository's ONNX file reported as
model "onnx" with params.path (the series identity), and the one validation
of such a benchmark's params (engine.onnx_spec) that the agent and the
platform share."""
import json

import pytest

from engine.cli import main
from engine.onnx_io.mlp_file import write_mlp_onnx
from engine.onnx_spec import params_errors, path_error


@pytest.mark.parametrize("path", ["net.onnx", "models/v2/net.ONNX"])
def test_a_relative_onnx_path_is_valid(path):
    assert path_error(path) is None


@pytest.mark.parametrize("path,message", [
    ("", "expected a path relative"), (None, "expected a path relative"), ("/m/net.onnx", "no leading '/'"),
    ("m//net.onnx", "empty segments"), ("./net.onnx", "'.'"), ("m/../net.onnx", "'..'"),
    ("m\\net.onnx", "backslashes"), (" net.onnx", "surrounding spaces"), ("m/net.pb", "ending in .onnx"),
    ("a" * 301 + ".onnx", "at most 300"),
])
def test_a_bad_path_says_what_is_wrong(path, message):
    assert message in path_error(path)


def test_params_errors_name_each_bad_key():
    assert params_errors({"path": "m/net.onnx", "batch": 2, "input_ranges": {"ids": [0, 5]}}) == {}
    errors = params_errors({"batch": True, "input_ranges": {"ids": [0]}, "sizes": [1]})
    assert set(errors) == {"path", "batch", "input_ranges", "sizes"}
    assert "missing" in errors["path"] and "unknown key" in errors["sizes"]
    assert params_errors([1]) == {"": "expected a table/object with path (and optionally batch, input_ranges), "
                                      "got [1]"}


def test_the_report_names_the_model_onnx_with_the_repository_path(tmp_path, capsys):
    write_mlp_onnx(tmp_path / "net.onnx", [16, 32, 8])
    out = tmp_path / "r.json"
    assert main(["run", "--onnx", str(tmp_path / "net.onnx"), "--repo-path", "models/net.onnx", "--batch", "4",
                 "--repeats", "1", "--warmup", "0", "--flag", "trial=true", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["benchmark"]["model"] == "onnx"
    assert report["benchmark"]["params"] == {"path": "models/net.onnx", "batch": 4}
    assert report["config"]["flags"] == {"trial": True}  # flags reach the engine's ONNX runs too
    assert [layer["name"] for layer in report["layers"]] == ["fc1", "fc1_bias", "fc1_relu", "fc2", "fc2_bias"]


def test_without_repo_path_the_report_keeps_the_file_name(tmp_path):
    write_mlp_onnx(tmp_path / "net.onnx", [16, 8])
    out = tmp_path / "r.json"
    assert main(["run", "--onnx", str(tmp_path / "net.onnx"), "--batch", "2", "--repeats", "1", "--warmup", "0",
                 "--json", str(out)]) == 0
    benchmark = json.loads(out.read_text())["benchmark"]
    assert (benchmark["model"], benchmark["params"]) == ("onnx:net", {"file": "net.onnx", "batch": 2})


def test_a_bad_repo_path_or_one_without_a_file_is_refused(tmp_path, capsys):
    write_mlp_onnx(tmp_path / "net.onnx", [16, 8])
    assert main(["run", "--onnx", str(tmp_path / "net.onnx"), "--repo-path", "../net.onnx"]) == 2
    assert "--repo-path: expected a normalized path" in capsys.readouterr().err
    assert main(["run", "--repo-path", "net.onnx"]) == 2
    assert "--onnx FILE" in capsys.readouterr().err
