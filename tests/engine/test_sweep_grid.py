"""The sweep's grid: its product in order, pinning turned into each
instance's CPUs, and values that cannot work refused with the reason."""
from __future__ import annotations

import pytest

from engine.sweep.grid import Grid, SweepConfig, SweepConfigError, instance_cores, parse_cpus


def test_the_grid_is_the_product_of_every_knob_in_order():
    grid = Grid(threads=(1, 2), batch=(8,), instances=(1, 2), pin=("off", "on"))
    configs = grid.configs()
    assert len(configs) == 8
    assert configs[0] == SweepConfig(1, 8, 1, "off", "none", "none")
    assert configs[-1] == SweepConfig(2, 8, 2, "on", "none", "none")
    assert grid.to_dict()["pin"] == ["off", "on"]


def test_a_grid_refuses_empty_repeated_and_nonpositive_values_naming_the_knob():
    with pytest.raises(SweepConfigError, match="at least one batch value"):
        Grid(threads=(1,), batch=())
    with pytest.raises(SweepConfigError, match=r"threads values repeat: \[1, 1\]"):
        Grid(threads=(1, 1), batch=(8,))
    with pytest.raises(SweepConfigError, match=r"instances must be >= 1, got \[0\]"):
        Grid(threads=(1,), batch=(8,), instances=(0,))
    with pytest.raises(SweepConfigError, match="'x' is not a CPU number"):
        Grid(threads=(1,), batch=(8,), pin=("0-1/x",))


def test_cpu_sets_read_as_the_kernel_writes_them():
    assert parse_cpus("0-3,6") == (0, 1, 2, 3, 6)
    with pytest.raises(SweepConfigError, match="bad range '3-1'"):
        parse_cpus("3-1")


def test_pin_on_gives_each_instance_its_own_run_of_cpus():
    config = SweepConfig(threads=2, batch=8, instances=2, pin="on")
    assert instance_cores(config, [0, 1, 2, 3]) == [(0, 1), (2, 3)]
    assert instance_cores(SweepConfig(2, 8, 2, "off"), [0, 1]) == [None, None]
    with pytest.raises(SweepConfigError, match="pin on needs 2 x 2 = 4 CPUs, this process may use 2"):
        instance_cores(config, [0, 1])


def test_explicit_cpu_sets_are_one_per_instance_or_one_shared_and_must_be_allowed():
    assert instance_cores(SweepConfig(1, 8, 2, "0/1"), [0, 1]) == [(0,), (1,)]
    assert instance_cores(SweepConfig(1, 8, 2, "0-1"), [0, 1]) == [(0, 1), (0, 1)]
    with pytest.raises(SweepConfigError, match="gives 3 CPU sets for 2 instances"):
        instance_cores(SweepConfig(1, 8, 2, "0/1/0"), [0, 1])
    with pytest.raises(SweepConfigError, match=r"CPUs \[7\] are not among those this process may use \(0,1\)"):
        instance_cores(SweepConfig(1, 8, 1, "7"), [0, 1])
