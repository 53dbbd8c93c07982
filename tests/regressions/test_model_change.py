"""A model change at a commit: attribution says "model changed: version A ->
version B at commit C" and names the layers whose FLOPs or bytes changed,
matching renamed layers through their lineage (the original nodes they
cover) and saying where it could not; such a regression is classified as
work."""
import pytest

from fleet.models import Machine
from regressions.attribution import attribute
from regressions.model_change import LayerWork, describe, work_changes
from tests.regressions.history import history, ingest_all


def lw(name, flops, sources=None, nbytes=100, op="Linear"):
    return LayerWork(name, op, tuple(sources or [name]), flops, nbytes)


def test_layers_are_matched_by_name_and_the_changed_ones_named():
    change = work_changes([lw("fc1", 10), lw("fc2", 20), lw("fc3", 30)],
                          [lw("fc1", 10), lw("fc2", 40, nbytes=150), lw("fc3", 60)])
    assert [(c["layer"], c["flops"], c["bytes"], c["matched_by"]) for c in change["changed"]] == [
        ("fc2", [20, 40], [100, 150], "name"), ("fc3", [30, 60], [100, 100], "name")]
    assert (change["added"], change["removed"], change["unmatched"]) == ([], [], False)


def test_a_renamed_layer_is_matched_through_its_lineage():
    """The fused layer got another name (other passes), but covers the same original node."""
    change = work_changes([lw("fc2", 20, ["fc2", "fc2_bias"])], [lw("fc2+relu", 40, ["fc2", "fc2_bias", "r"])])
    assert change["changed"] == [{"layer": "fc2+relu", "was": "fc2", "op": "Linear", "flops": [20, 40],
                                  "bytes": [100, 100], "matched_by": "lineage"}]
    assert change["unmatched"] is False


def test_a_layer_with_neither_name_nor_lineage_in_common_is_said_to_be_unmatched():
    change = work_changes([lw("dense_a", 20), lw("fc1", 5)], [lw("dense_b", 20), lw("fc1", 5)])
    assert change["changed"] == [] and change["added"] == ["dense_b"] and change["removed"] == ["dense_a"]
    assert change["unmatched"] is True
    line = describe({"before": "aaa", "after": "bbb", "commit": "c" * 40, **change})
    assert line == ("model changed: version aaa -> version bbb at commit cccccccccccc; matched by neither name "
                    "nor lineage: new dense_b; gone dense_a")


def test_describe_names_the_versions_the_commit_and_the_layers():
    change = {"before": "v1", "after": "v2", "commit": "0123456789abcdef", **work_changes(
        [lw("fc2", 20)], [lw("fc2", 40)])}
    assert describe(change) == "model changed: version v1 -> version v2 at commit 0123456789ab; work changed in fc2"
    assert describe({"before": "v1", "after": "v2"}) == "model changed: version v1 -> version v2"  # older alerts


@pytest.mark.django_db
def test_attribution_of_a_wider_layer_names_it_and_the_commit():
    reports = history(2)
    after = reports[1]
    after["benchmark"]["model_version"] = "wider"
    fc1 = next(ly for ly in after["layers"] if ly["name"] == "fc1")
    fc1["flops"] *= 2
    fc1["bytes"] += 1000
    fc1["gflops"] *= 2
    before_run, after_run = ingest_all(reports, Machine.objects.create(name="m1"))
    result = attribute(before_run, after_run)["model_version"]
    assert (result["after"], result["commit"]) == ("wider", "c1")
    assert [c["layer"] for c in result["changed"]] == ["fc1"]
    assert result["changed"][0]["flops"] == [fc1["flops"] // 2, fc1["flops"]]
