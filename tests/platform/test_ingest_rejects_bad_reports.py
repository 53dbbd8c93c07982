"""Every kind of bad report is a 400 naming the field path, and writes nothing."""
import json

import pytest

from tests.report_factory import make_report

from .conftest import machine_state, row_counts


def _without(path):
    def mutate(report):
        *parents, last = path
        node = report
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


def _setting(path, value):
    def mutate(report):
        *parents, last = path
        node = report
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


def _duplicate_index(report):
    report["layers"][3]["index"] = report["layers"][1]["index"]


def _p25_above_median(report):
    report["layers"][2]["time"]["p25"] = report["layers"][2]["time"]["median"] * 2


BAD_REPORTS = {
    "missing field": (_without(["layers", 1, "flops"]), "layers[1].flops", "This field is required."),
    "missing section": (_without(["end_to_end"]), "end_to_end", "This field is required."),
    "string for integer": (
        _setting(["layers", 0, "flops"], "12"), "layers[0].flops", "Expected an integer or null, got string."
    ),
    "float for integer": (_setting(["repeats"], 20.0), "repeats", "Expected an integer, got number 20.0."),
    "boolean for number": (
        _setting(["machine", "peak_gbs"], True), "machine.peak_gbs", "Expected a number, got boolean."
    ),
    "number for string": (_setting(["layers", 2, "op"], 7), "layers[2].op", "Expected a string, got number."),
    "negative time": (
        _setting(["layers", 3, "time", "median"], -1.0),
        "layers[3].time.median",
        "Expected a number >= 0.0.",
    ),
    "a time of over a year": (
        _setting(["end_to_end", "p75"], 1e300), "end_to_end.p75", "Expected a number <= 31536000.0.",
    ),
    "negative flops": (_setting(["layers", 0, "flops"], -5), "layers[0].flops", "Expected an integer >= 0."),
    "zero repeats": (_setting(["end_to_end", "n"], 0), "end_to_end.n", "Expected an integer >= 1."),
    "flops over BIGINT": (
        _setting(["layers", 0, "flops"], 2**63), "layers[0].flops", "Expected an integer <= 9223372036854775807."
    ),
    "unknown schema": (
        _setting(["schema"], "roofwatch.run/2"),
        "schema",
        "Unsupported report schema 'roofwatch.run/2': this server accepts 'roofwatch.run/1' only.",
    ),
    "bad uuid": (_setting(["idempotency_key"], "not-a-uuid"), "idempotency_key", "Invalid UUID."),
    "bound not in choices": (
        _setting(["layers", 1, "bound"], "latency"),
        "layers[1].bound",
        "'latency' is not one of 'compute', 'bandwidth'.",
    ),
    "duplicate layer index": (_duplicate_index, "layers[3].index", "Duplicate layer index 1 (also at layers[1])."),
    "p25 above median": (_p25_above_median, "layers[2].time.p25", None),
    "started_at not a datetime": (_setting(["started_at"], "yesterday"), "started_at", None),
    "commit_time not a string": (_setting(["source", "commit_time"], 1700000000), "source.commit_time", None),
    "string over its column": (_setting(["machine", "fingerprint"], "f" * 65), "machine.fingerprint", None),
    "unknown field": (_setting(["layers", 0, "latency"], 1.0), "layers[0].latency", None),
    "no layers": (_setting(["layers"], []), "layers", None),
    "reserved layer name": (_setting(["layers", 0, "name"], "end_to_end"), "layers[0].name", None),
    "non-http ci url": (_setting(["source", "ci_url"], "javascript:alert(1)"), "source.ci_url", None),
    "params not an object": (_setting(["benchmark", "params"], [64]), "benchmark.params", None),
    "zero peak": (_setting(["machine", "peak_gflops"], 0.0), "machine.peak_gflops", "Expected a number > 0.0."),
    "NUL in a layer name": (_setting(["layers", 1, "name"], "fc\x00"), "layers[1].name",
                            "Must not contain NUL (0x00) characters."),
    "NUL in a source": (_setting(["layers", 1, "sources"], ["a", "b\x00"]), "layers[1].sources",
                        "Must not contain NUL (0x00) characters (at [1])."),
    "lone surrogate in op": (_setting(["layers", 1, "op"], "\udfff"), "layers[1].op",
                             "Must not contain lone surrogates (U+DFFF): they are not Unicode text."),
    "a source out of type": (_setting(["layers", 1, "sources"], ["a", 3]), "layers[1].sources",
                             "Expected a string, got number (at [1])."),
    "ci interval without the median": (
        _setting(["end_to_end", "ci_low"], 1.0), "end_to_end.ci_high",
        "ci_low and ci_high come together or not at all."),
}


@pytest.mark.parametrize("mutate, path, message", BAD_REPORTS.values(), ids=BAD_REPORTS.keys())
def test_it_rejects_a_bad_report_naming_the_field(upload, machine, mutate, path, message):
    report = make_report()
    mutate(report)
    before = machine_state(machine)
    response = upload(report)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert path in errors, errors
    if message is not None:
        assert errors[path] == [message]
    assert path in response.json()["detail"]
    assert row_counts() == {"Project": 0, "Benchmark": 0, "Run": 0, "LayerMeasurement": 0}
    assert machine_state(machine) == before


def _body_with(report, placeholder_path, literal):
    _setting(placeholder_path, "__PLACEHOLDER__")(report)
    return json.dumps(report).replace('"__PLACEHOLDER__"', literal)


@pytest.mark.parametrize(
    "path, where, literal",
    [
        (["layers", 2, "gbs"], "layers[2].gbs", "NaN"),
        (["end_to_end", "median"], "end_to_end.median", "Infinity"),
        (["layers", 0, "time", "min"], "layers[0].time.min", "-Infinity"),
        (["machine", "peak_gflops"], "machine.peak_gflops", "1e999"),
        (["benchmark", "params", "scale"], "benchmark.params", "NaN"),
    ],
)
def test_it_rejects_non_finite_numbers_naming_the_field(upload, machine, path, where, literal):
    before = machine_state(machine)
    response = upload(_body_with(make_report(), path, literal))
    assert response.status_code == 400, response.content
    [message] = response.json()["errors"][where]
    assert "finite" in message
    assert row_counts() == {"Project": 0, "Benchmark": 0, "Run": 0, "LayerMeasurement": 0}
    assert machine_state(machine) == before


def test_it_rejects_malformed_json_naming_the_parse_problem(upload, machine):
    before = machine_state(machine)
    body = json.dumps(make_report())[:-10]
    response = upload(body)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("Malformed JSON: ") and "line 1 column" in detail
    assert row_counts() == {"Project": 0, "Benchmark": 0, "Run": 0, "LayerMeasurement": 0}
    assert machine_state(machine) == before


@pytest.mark.parametrize("body, got", [("[1, 2]", "array"), ('"report"', "string")])
def test_it_rejects_a_body_that_is_not_an_object(upload, body, got):
    response = upload(body)
    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": [f"Expected a JSON object, got {got}."]}


def test_it_reports_every_bad_field_at_once(upload):
    report = make_report()
    report["layers"][0]["time"]["median"] = -1.0
    report["layers"][3]["flops"] = "many"
    del report["machine"]["cores"]
    errors = upload(report).json()["errors"]
    assert set(errors) == {"layers[0].time.median", "layers[3].flops", "machine.cores"}
