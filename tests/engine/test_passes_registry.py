import pytest

from engine.passes import PASSES, UnknownPassError, resolve_passes, run_passes
from tests.engine.passes_graphs import graph, weights


def test_all_means_every_pass_in_pipeline_order_and_none_means_no_pass():
    assert resolve_passes("all") == list(PASSES)
    assert resolve_passes("none") == resolve_passes("") == resolve_passes(None) == resolve_passes([]) == []


def test_a_list_is_put_in_pipeline_order_without_repeats():
    assert resolve_passes("dead_nodes, linear_activation,dead_nodes") == ["linear_activation", "dead_nodes"]
    assert resolve_passes(["dead_nodes", "cse"]) == ["cse", "dead_nodes"]


@pytest.mark.parametrize("request_", ["bogus", "cse,bogus", "all,cse"])
def test_an_unknown_name_is_an_error_listing_the_valid_ones(request_):
    with pytest.raises(UnknownPassError) as info:
        resolve_passes(request_)
    assert "'all', 'none'" in str(info.value)
    assert all(name in str(info.value) for name in PASSES)


def test_a_pass_that_cannot_apply_is_a_recorded_no_op_not_an_error():
    (w,) = weights((8, 5))
    g = graph([("fc", "Linear", ("x", "w"), ("y",))], {"w": w})
    r = run_passes(g, "all")
    assert r.graph is g and r.applied == [] and r.noop == list(PASSES)
    assert r.lineage == {"fc": ("fc",)}
