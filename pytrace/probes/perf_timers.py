"""Shared parsing for timer-driven perf event probes (interval, profile).

Both take `UNIT:N` (`interval:s:1`, `profile:hz:99`) or the one-part spelling `1s`,
`99hz`; the unit picks a period in nanoseconds or a frequency.
"""

from __future__ import annotations

import re

from pytrace.diagnostics import PytraceError

PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_CPU_CLOCK = 0

_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000}

# perf_event_attr's sample_period and sample_freq are u64, and the kernel refuses
# a period with the top bit set: a larger count must be refused here, located,
# before it reaches the syscall.
MAX_PERIOD = (1 << 63) - 1
_MAX_SAMPLE_RATE = "/proc/sys/kernel/perf_event_max_sample_rate"


def parse_count(text: str, what: str, ap, minimum: int = 1, base: int = 10) -> int:
    """A software/hardware event's count from its attach point, within what perf takes."""
    try:
        n = int(text, base)
    except ValueError:
        n = None
    if n is None or not minimum <= n <= MAX_PERIOD:
        raise PytraceError(f"Invalid count for {what} probe: {text} "
                           f"(must be from {minimum} to {MAX_PERIOD})", ap.span)
    return n


def parse_rate(provider: str, ap, target=None) -> tuple[str, int]:
    """(unit, value) from the attach point parts."""
    parts = list(ap.parts)
    if len(parts) == 1:
        m = re.fullmatch(r"(\d+)([a-z]+)", parts[0])
        if not m:
            # `interval:1s` is `interval:s:1`; any other single field is bpftrace's error.
            raise PytraceError(f"{provider} probe type requires 2 arguments", ap.span)
        parts = [m.group(2), m.group(1)]
    if len(parts) != 2:
        raise PytraceError(f"{provider} probe type requires 2 arguments", ap.span)
    unit, value = parts
    if unit not in (*_NS_PER_UNIT, "hz"):
        raise PytraceError(f"{value} is not an accepted unit for {provider} probes"
                           if not unit.isdigit() else f"Invalid {provider} unit", ap.span)
    try:
        n = int(value)
    except ValueError:
        raise PytraceError(f"Invalid rate of {provider} probe: {value}", ap.span) from None
    if n <= 0:
        raise PytraceError(f"Invalid rate of {provider} probe: {value}", ap.span)
    limit = _max_rate(target) if unit == "hz" else MAX_PERIOD // _NS_PER_UNIT[unit]
    if n > limit:
        raise PytraceError(f"Invalid rate of {provider} probe: {value} "
                           f"(at most {limit}{unit})", ap.span)
    return unit, n


def _max_rate(target) -> int:
    """The kernel's highest sampling frequency (kernel.perf_event_max_sample_rate)."""
    try:
        return min(int(target.read_file(_MAX_SAMPLE_RATE)), MAX_PERIOD)
    except (AttributeError, OSError, ValueError):
        return MAX_PERIOD


def rate_options(unit: str, n: int) -> dict:
    if unit == "hz":
        return {"sample_freq": n}
    return {"sample_period": n * _NS_PER_UNIT[unit]}


def attach_timer(target, prog_fd, spec) -> int:
    return target.attach_perf_event(
        prog_fd, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK,
        sample_period=spec.options.get("sample_period", 0),
        sample_freq=spec.options.get("sample_freq", 0),
        pid=-1, cpu=spec.options.get("cpu", 0))
