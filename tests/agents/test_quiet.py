import itertools

from agents.quiet import finish_conditions, wait_for_quiet


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_it_waits_until_the_load_falls_below_the_limit_and_records_how_long(monkeypatch):
    clock = FakeClock()
    loads = iter([(3.0, 2, 1), (2.0, 2, 1), (0.2, 1, 1)])

    def getload():
        clock.now += 1.0  # each check takes a second of fake time
        return next(loads)

    monkeypatch.setattr("agents.quiet.time.sleep", lambda s: None)
    cond = wait_for_quiet(0.5, 60, 5, getload=getload, clock=clock)
    assert cond["quiet"] is True and cond["loadavg_before"] == [3.0, 2, 1] and cond["loadavg_start"][0] == 0.2
    assert cond["waited_seconds"] == 3.0 and cond["max_load"] == 0.5


def test_the_wait_is_bounded_and_a_busy_machine_is_measured_anyway(monkeypatch):
    clock = FakeClock()

    def getload():
        clock.now += 10.0
        return (4.0, 4.0, 4.0)

    monkeypatch.setattr("agents.quiet.time.sleep", lambda s: None)
    cond = wait_for_quiet(0.5, 30, 5, getload=getload, clock=clock)
    assert cond["quiet"] is False and 30 <= cond["waited_seconds"] <= 40


def test_without_a_limit_it_does_not_wait_and_records_the_pinning():
    calls = itertools.count()
    cond = wait_for_quiet(None, 30, 5, getload=lambda: (next(calls), 0, 0))
    assert cond["quiet"] is True and cond["waited_seconds"] < 1
    done = finish_conditions(cond, [1, 0])
    assert done["cpus"] == [0, 1] and len(done["loadavg_after"]) == 3
