"""run_obs_from_report reads measurements from a roofwatch.run/1 report and never its config."""
from collections.abc import Mapping

import pytest

from regressions.classify import classify_change
from regressions.report_obs import run_obs_from_report
from tests.report_factory import make_report


class Untouchable(Mapping):
    """A config section that fails the test if anything reads it."""

    def __getitem__(self, key):
        raise AssertionError(f"config[{key!r}] was read")

    def __iter__(self):
        raise AssertionError("config was iterated")

    def __len__(self):
        raise AssertionError("config was measured")


def test_it_reads_layers_end_to_end_and_peaks():
    report = make_report(layers=4)
    obs = run_obs_from_report(report)
    assert [ly.name for ly in obs.layers] == ["fc0", "relu0", "fc1", "relu1"]
    fc0 = report["layers"][0]
    assert (obs.layers[0].flops, obs.layers[0].bytes, obs.layers[0].median) == (
        fc0["flops"], fc0["bytes"], fc0["time"]["median"])
    assert obs.layers[0].p25 == fc0["time"]["p25"] and obs.layers[0].p75 == fc0["time"]["p75"]
    assert obs.end_to_end == report["end_to_end"]["median"]
    assert (obs.peak_gflops, obs.peak_gbs) == (180.0, 23.0)


def test_it_never_reads_the_config():
    report = make_report(layers=4)
    report["config"] = Untouchable()
    obs = run_obs_from_report(report)
    assert len(obs.layers) == 4


def test_it_classifies_reports_the_same_without_config_inject():
    before = [make_report(layers=4) for _ in range(3)]
    after = [make_report(layers=4, time_scale=1.5) for _ in range(3)]
    for r in after:
        r["config"]["inject"] = ["compute:fc0:1.5"]
    with_inject = classify_change([run_obs_from_report(r) for r in before], [run_obs_from_report(r) for r in after])
    for r in after:
        r["config"] = Untouchable()
    without = classify_change([run_obs_from_report(r) for r in before], [run_obs_from_report(r) for r in after])
    assert with_inject == without and with_inject.kind != "unknown"


def test_it_reads_a_report_without_peaks_or_layers():
    report = make_report(layers=4)
    report["machine"].update(peak_gflops=None, peak_gbs=None)
    report["layers"] = []
    obs = run_obs_from_report(report)
    assert obs.layers == () and obs.peak_gflops is None and obs.peak_gbs is None


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda r: r.pop("end_to_end"), r"report\.end_to_end: missing"),
    (lambda r: r["layers"][1].pop("flops"), r"report\.layers\[1\]\.flops: missing"),
    (lambda r: r["layers"][0]["time"].update(median=-1.0), r"report\.layers\[0\]\.time\.median: expected a finite"),
    (lambda r: r["layers"][2].update(bytes="many"), r"report\.layers\[2\]\.bytes: expected"),
    (lambda r: r.update(layers={"fc0": 1}), r"report\.layers: expected a list"),
])
def test_it_names_the_bad_field(mutate, message):
    report = make_report(layers=4)
    mutate(report)
    with pytest.raises(ValueError, match=message):
        run_obs_from_report(report)
