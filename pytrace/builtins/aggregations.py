"""Aggregation functions, valid only as `@map[keys] = f(...)`: count, sum, min, max,
avg, stats, hist, lhist. Each updates this CPU's slot of a per-CPU map in place
(slot layouts in pytrace.types); userspace merges CPUs when printing."""

from __future__ import annotations

from pytrace.builtins import function
from pytrace.codegen import maps
from pytrace.codegen.function import c64
from pytrace.codegen.module import I64
from pytrace.passes.state import error
from pytrace.passes.types_util import is_int, is_signed
from pytrace.types import (AvgType, CountType, HistType, LhistType, MaxType, MinType,
                           StatsType, SumType)


def _args(checker, call, n: int | tuple[int, ...]):
    allowed = (n,) if isinstance(n, int) else n
    if len(call.args) not in allowed:
        want = " or ".join(str(a) for a in allowed)
        raise error(f"{call.name}() requires {want} argument"
                    f"{'' if allowed == (1,) else 's'} ({len(call.args)} provided)", call)


def _int_arg(checker, call):
    t = checker.expr(call.args[0])
    if not (is_int(t) or type(t).__name__ == "UnknownType"):
        raise error(f"{call.name}() only supports integer arguments "
                    f"({t} provided)", call.args[0])
    return t


def _add_in_place(fn, ptr, offset, value):
    # One `lock add` instruction where a load, add and store take three. The slot
    # is this CPU's own, so the lock is uncontended: a few cycles per event.
    slot = fn.b.bitcast(fn.gep(ptr, offset), I64.as_pointer())
    fn.b.atomic_rmw("add", slot, value, "monotonic")


# ---- count / sum -------------------------------------------------------------

def _count_type(checker, call):
    _args(checker, call, 0)
    return CountType()


def _count(fn, m, call):
    maps.add_to_slot(fn, m, c64(1), at=call.span)


def _sum_type(checker, call):
    _args(checker, call, 1)
    return SumType(signed=is_signed(_int_arg(checker, call)))


def _sum(fn, m, call):
    maps.add_to_slot(fn, m, fn.expr(call.args[0]), at=call.span)


# ---- min / max: (value, set flag) ----------------------------------------------

def _minmax_type(cls):
    def check(checker, call):
        _args(checker, call, 1)
        return cls(signed=is_signed(_int_arg(checker, call)))
    return check


def _minmax(better: str):
    def aggregate(fn, m, call):
        v = fn.expr(call.args[0])
        signed = fn.state.maps[m.name].value_type.signed
        cmp = fn.b.icmp_signed if signed else fn.b.icmp_unsigned

        def init(buf):
            fn.store_int(v, buf, 8)
            fn.store_int(c64(1), fn.gep(buf, 8), 8)

        def keep(slot, done, write):
            # Write when v is better, or when the slot was never set (other CPUs'
            # slots of a key start zeroed; so do slots after zero()).
            current = fn.load_int(slot, 8, signed)
            if better == ">" and not signed:
                # Zero is below every unsigned value: an unset slot loses to any v
                # that is not zero, and a zero v changes nothing. No flag test.
                fn.b.cbranch(cmp(better, v, current), write, done)
                return
            flag = fn.block("minmax.flag")
            fn.b.cbranch(cmp(better, v, current), write, flag)
            fn.place(flag)
            unset = fn.b.icmp_unsigned("==", fn.load_int(fn.gep(slot, 8), 8, False), c64(0))
            fn.b.cbranch(unset, write, done)
        maps.replace_slot_unless(fn, m, keep, init, call.span)
    return aggregate


# ---- avg / stats: (count, total) -----------------------------------------------

def _avg_type(cls):
    def check(checker, call):
        _args(checker, call, 1)
        return cls(signed=is_signed(_int_arg(checker, call)))
    return check


def _avg(fn, m, call):
    v = fn.expr(call.args[0])

    def update(p):
        _add_in_place(fn, p, 0, c64(1))
        _add_in_place(fn, p, 8, v)

    def init(buf):
        fn.store_int(c64(1), buf, 8)
        fn.store_int(v, fn.gep(buf, 8), 8)
    maps.update_slot(fn, m, update, init, at=call.span)


# ---- hist / lhist: one u64 count per bucket key --------------------------------

def _bump(fn, m, bucket, at=None):
    maps.add_to_slot(fn, m, c64(1), bucket, at)


def _hist_type(checker, call):
    _args(checker, call, (1, 2))
    _int_arg(checker, call)
    k = checker.const_int(call.args[1], "hist() k") if len(call.args) == 2 else 0
    if k != 0:
        raise error("hist() with k > 0 is not supported yet", call.args[1])
    return HistType(k=k)


# The bucket of i in 0..15, three bits each: 1 for zero, 2 + log2(i) above. The
# last two steps of the search below become one lookup in this immediate.
_SMALL_BUCKETS = sum((i.bit_length() + 1) << (3 * i) for i in range(16))


def log2_bucket(fn, v):
    """bpftrace's power-of-two buckets: 0 for negatives, 1 for zero, 2 + log2(v) else."""
    b = fn.b

    def not_negative():
        # Binary search for the highest set bit: straight-line, no loop for the
        # verifier. Each step is 2**bit if x has bits at or above 2**(2**bit),
        # else 0 (LLVM lowers it to a move, a compare and a conditional zero).
        n, x = None, v
        for bit in (5, 4, 3, 2):
            big = b.icmp_unsigned(">", x, c64((1 << (1 << bit)) - 1))
            step = b.shl(b.zext(big, x.type), c64(bit))
            x = b.lshr(x, step)
            n = step if n is None else b.or_(n, step)
        # x is now 0..15 (0 only when v is): the rest of the bucket is in the table.
        small = b.and_(b.lshr(c64(_SMALL_BUCKETS), b.mul(x, c64(3))), c64(7))
        return b.add(n, small)

    # A branch, not a select: v is not needed after the search, so no copy of it.
    return fn.select_int(b.icmp_signed("<", v, c64(0)), lambda: c64(0), not_negative)


def _hist(fn, m, call):
    v = fn.expr(call.args[0])
    _bump(fn, m, log2_bucket(fn, v), call.span)


def _lhist_type(checker, call):
    _args(checker, call, 4)
    _int_arg(checker, call)
    lo = checker.const_int(call.args[1], "lhist() min")
    hi = checker.const_int(call.args[2], "lhist() max")
    step = checker.const_int(call.args[3], "lhist() step")
    if lo < 0:
        raise error("lhist() min must be non-negative (provided min " + str(lo) + ")", call)
    if step <= 0:
        raise error("lhist() step must be >= 1 (" + str(step) + " provided)", call)
    if hi <= lo:
        raise error(f"lhist() min must be less than max (provided min {lo} and max {hi})",
                    call)
    if (hi - lo) // step > 1000:
        raise error("lhist() too many buckets, must be <= 1000 (would need "
                    f"{(hi - lo) // step})", call)
    return LhistType(min=lo, max=hi, step=step)


def _lhist(fn, m, call):
    t: LhistType = fn.state.maps[m.name].value_type
    v = fn.expr(call.args[0])
    b = fn.b
    # Branches rather than selects: each arm leaves its bucket in one register and
    # v is not needed after, so no copies.
    def inside():
        # Only reached when min <= v, so the difference is non-negative: unsigned.
        return b.add(b.udiv(b.sub(v, c64(t.min)), c64(t.step)), c64(1))
    bucket = fn.select_int(b.icmp_signed("<", v, c64(t.min)), lambda: c64(0), lambda: fn.select_int(
        b.icmp_signed(">=", v, c64(t.max)), lambda: c64(t.buckets - 1), inside))
    _bump(fn, m, bucket, call.span)


function("count", aggregation=_count_type, aggregate=_count)
function("sum", aggregation=_sum_type, aggregate=_sum)
function("min", aggregation=_minmax_type(MinType), aggregate=_minmax("<"))
function("max", aggregation=_minmax_type(MaxType), aggregate=_minmax(">"))
function("avg", aggregation=_avg_type(AvgType), aggregate=_avg)
function("stats", aggregation=_avg_type(StatsType), aggregate=_avg)
function("hist", aggregation=_hist_type, aggregate=_hist)
function("lhist", aggregation=_lhist_type, aggregate=_lhist)
