"""Attribution says what differs between the runs on either side of a change,
and the summary key groups one cause across benchmarks and machines."""
from datetime import datetime, timezone

import pytest

from regressions.attribution import attribute, config_diff, summary_key
from results.models import Benchmark, Project, Run


def run(pk: int, commit: str = "c1", model_version: str = "v1", config: dict | None = None) -> Run:
    project = Project(pk=1, name="p", repository_url="https://example.com/p")
    return Run(pk=pk, benchmark=Benchmark(project=project, model="mlp"), commit=commit, branch="main",
               model_version=model_version, config=config or {"quant": "none", "threads": 2},
               started_at=datetime(2026, 1, 1, tzinfo=timezone.utc))


def test_it_names_the_commit_range():
    result = attribute(run(1, commit="aaa"), run(2, commit="bbb"))
    assert result["commits"] == {"repository": "https://example.com/p", "last_good": "aaa", "first_bad": "bbb",
                                 "branch": "main"}
    assert "model_version" not in result and "config" not in result


@pytest.mark.django_db  # a model change reads both runs' layers (these unsaved runs have none)
def test_it_names_a_model_version_change():
    result = attribute(run(1, model_version="v1"), run(2, model_version="v2"))
    assert result["model_version"] == {"before": "v1", "after": "v2", "commit": "c1", "changed": [], "added": [],
                                       "removed": [], "unmatched": False} and "commits" not in result


def test_it_diffs_nested_config_keys():
    before = {"quant": "none", "flags": {"fuse": True, "old": 1}, "threads": 2}
    after = {"quant": "int8", "flags": {"fuse": True, "new": 2}, "threads": 2}
    assert config_diff(before, after) == {
        "flags.new": {"before": None, "after": 2},
        "flags.old": {"before": 1, "after": None},
        "quant": {"before": "none", "after": "int8"},
    }


@pytest.mark.django_db
def test_one_commit_range_is_one_summary_on_every_benchmark_and_machine():
    first = attribute(run(1, commit="aaa", model_version="x1"), run(2, commit="bbb", model_version="x2"))
    other = attribute(run(7, commit="aaa", model_version="y1"), run(9, commit="bbb", model_version="y2"))
    assert summary_key(1, first) == summary_key(1, other)
    assert summary_key(1, first) != summary_key(2, first)  # another project


def test_a_change_with_no_cause_is_grouped_by_its_run_pair():
    same = attribute(run(1), run(2))
    assert set(same) == {"run_before", "run_after"}
    assert summary_key(1, same) == summary_key(1, attribute(run(1), run(2)))
    assert summary_key(1, same) != summary_key(1, attribute(run(3), run(4)))
