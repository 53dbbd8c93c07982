"""The sweep's grid: one SweepConfig per combination of the knobs, and the
CPUs each instance of a pinned configuration runs on."""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

PIN_OFF = "off"  # the instances float over every CPU this process may use
PIN_ON = "on"  # instance i gets the i-th run of `threads` CPUs of the allowed set, none shared


class SweepConfigError(ValueError):
    """A grid value or a configuration that cannot run here; the message says which and why."""


@dataclass(frozen=True)
class SweepConfig:
    """One point of the grid. `pin` is "off", "on" or explicit CPU sets,
    one per instance separated by "/" (or one set all instances share):
    "0-1/2-3". `passes` and `quant` are spelled as `run` takes them."""
    threads: int
    batch: int
    instances: int
    pin: str = PIN_OFF
    passes: str = "none"
    quant: str = "none"

    def label(self) -> str:
        return (f"threads {self.threads} batch {self.batch} instances {self.instances} pin {self.pin} "
                f"passes {self.passes} quant {self.quant}")

    def to_dict(self) -> dict:
        return asdict(self)


def parse_cpus(text: str) -> tuple[int, ...]:
    """'0-3,6' -> (0, 1, 2, 3, 6), as the kernel's cpulist files spell sets."""
    cpus: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, sep, last = part.partition("-")
        try:
            lo, hi = int(first), int(last) if sep else int(first)
        except ValueError:
            raise SweepConfigError(f"CPU set {text!r}: {part!r} is not a CPU number or range like 0-3") from None
        if lo < 0 or hi < lo:
            raise SweepConfigError(f"CPU set {text!r}: bad range {part!r}")
        cpus.update(range(lo, hi + 1))
    if not cpus:
        raise SweepConfigError(f"CPU set {text!r} is empty")
    return tuple(sorted(cpus))


def check_pin(text: str) -> str:
    """A --pin value, checked for form (not yet against this machine)."""
    text = text.strip()
    if text not in (PIN_OFF, PIN_ON):
        for part in text.split("/"):
            parse_cpus(part)
    return text


def instance_cores(config: SweepConfig, allowed: Sequence[int]) -> list[tuple[int, ...] | None]:
    """The CPU set of each instance (None: not pinned). Raises SweepConfigError
    when the pinning cannot be done with the `allowed` CPUs."""
    if config.pin == PIN_OFF:
        return [None] * config.instances
    allowed = sorted(allowed)
    if config.pin == PIN_ON:
        need = config.instances * config.threads
        if need > len(allowed):
            raise SweepConfigError(f"pin on needs {config.instances} x {config.threads} = {need} CPUs, "
                                   f"this process may use {len(allowed)}")
        t = config.threads
        return [tuple(allowed[i * t:(i + 1) * t]) for i in range(config.instances)]
    sets = [parse_cpus(part) for part in config.pin.split("/")]
    if len(sets) not in (1, config.instances):
        raise SweepConfigError(f"pin {config.pin!r} gives {len(sets)} CPU sets for {config.instances} "
                               "instances; give one set or one per instance")
    outside = sorted({c for cpus in sets for c in cpus} - set(allowed))
    if outside:
        raise SweepConfigError(f"pin {config.pin!r}: CPUs {outside} are not among those this process may use "
                               f"({','.join(map(str, allowed))})")
    return sets * config.instances if len(sets) == 1 else sets


@dataclass(frozen=True)
class Grid:
    """The values of each knob; `configs()` is their product, in order."""
    threads: tuple[int, ...]
    batch: tuple[int, ...]
    instances: tuple[int, ...] = (1,)
    pin: tuple[str, ...] = (PIN_OFF,)
    passes: tuple[str, ...] = ("none",)
    quant: tuple[str, ...] = ("none",)

    def __post_init__(self) -> None:
        for name, values in self.to_dict().items():
            if not values:
                raise SweepConfigError(f"the grid needs at least one {name} value")
            if len(set(values)) != len(values):
                raise SweepConfigError(f"{name} values repeat: {list(values)}")
        for name in ("threads", "batch", "instances"):
            bad = [v for v in getattr(self, name) if v < 1]
            if bad:
                raise SweepConfigError(f"{name} must be >= 1, got {bad}")
        for pin in self.pin:
            check_pin(pin)

    def configs(self) -> list[SweepConfig]:
        return [SweepConfig(*values) for values in itertools.product(
            self.threads, self.batch, self.instances, self.pin, self.passes, self.quant)]

    def to_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in asdict(self).items()}
