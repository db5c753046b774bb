"""Hand-assembled BPF programs for the kernel-layer tests (pytrace.kernel.insn).

Each function returns instruction bytes for one small job, so a test can load
a real program without the compiler: count events per process, write ring
buffer records with sequence numbers, record a stack id.
"""

from __future__ import annotations

from pytrace.kernel import insn as I
from pytrace.kernel.insn import R0, R1, R2, R3, R4, R6, R7, R10

GET_CURRENT_PID_TGID = 14
MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM = 1, 2
GET_STACKID = 27
PROBE_READ_USER = 112
RINGBUF_OUTPUT, RINGBUF_RESERVE, RINGBUF_SUBMIT, RINGBUF_DISCARD = 130, 131, 132, 133


def _tgid_into_r0() -> bytes:
    return I.program(I.call(GET_CURRENT_PID_TGID), I.alu_imm(I.RSH, R0, 32))


def _return_zero() -> bytes:
    return I.program(I.mov_imm(R0, 0), I.exit_())


def _count_key_at(map_fd: int, key_off: int) -> bytes:
    """hash[key on the stack at r10 + key_off] += 1 (u64), inserting 1 the first
    time; then return 0."""
    return I.program(
        I.ld_map_fd(R1, map_fd),
        I.mov_reg(R2, R10), I.alu_imm(I.ADD, R2, key_off),
        I.call(MAP_LOOKUP_ELEM),
        I.jmp_imm(I.JEQ, R0, 0, 3),
        I.mov_imm(R1, 1),
        I.atomic_add(8, R0, 0, R1),
        I.ja(9),
        # First event with this key: insert 1.
        I.st_imm(8, R10, -24, 1),
        I.ld_map_fd(R1, map_fd),
        I.mov_reg(R2, R10), I.alu_imm(I.ADD, R2, key_off),
        I.mov_reg(R3, R10), I.alu_imm(I.ADD, R3, -24),
        I.mov_imm(R4, 0),
        I.call(MAP_UPDATE_ELEM),
        _return_zero(),
    )


def count_by_tgid(map_fd: int, syscall_nr: int | None = None) -> bytes:
    """hash[u32 tgid] += 1 (u64) per event.

    With syscall_nr, only raw_tracepoint sys_enter events whose id (args[1])
    is that number count.
    """
    body = I.program(_tgid_into_r0(), I.stx(4, R10, -4, R0), _count_key_at(map_fd, -4))
    if syscall_nr is None:
        return body
    skip = I.count(body) - 2   # land on the final `r0 = 0; exit`
    return I.program(I.ldx(8, R2, R1, 8), I.jmp_imm(I.JNE, R2, syscall_nr, skip), body)


def _only_pid(pid: int, to_end: int) -> bytes:
    return I.program(_tgid_into_r0(), I.jmp_imm(I.JNE, R0, pid, to_end))


def ringbuf_sequence(ring_fd: int, state_fd: int, pid: int, *, reserve: bool,
                     discard_every: int = 0) -> bytes:
    """For events of `pid`: seq = ++state[0]; emit a 16-byte record (seq, ~seq).

    reserve=False uses bpf_ringbuf_output; reserve=True uses reserve/submit,
    discards records whose seq is a multiple of discard_every (when set) and
    counts failed reservations (ring full) in state[1].
    """
    tail = _return_zero()
    emit_output = I.program(
        I.stx(8, R10, -16, R6),
        I.mov_reg(R7, R6), I.alu_imm(I.XOR, R7, -1), I.stx(8, R10, -8, R7),
        I.ld_map_fd(R1, ring_fd),
        I.mov_reg(R2, R10), I.alu_imm(I.ADD, R2, -16),
        I.mov_imm(R3, 16), I.mov_imm(R4, 0),
        I.call(RINGBUF_OUTPUT),
    )
    lost = I.program(   # state[1] += 1 when the ring is full
        I.st_imm(4, R10, -20, 1),
        I.ld_map_fd(R1, state_fd),
        I.mov_reg(R2, R10), I.alu_imm(I.ADD, R2, -20),
        I.call(MAP_LOOKUP_ELEM),
        I.jmp_imm(I.JEQ, R0, 0, 2),
        I.mov_imm(R1, 1), I.atomic_add(8, R0, 0, R1),
    )
    submit = I.program(I.mov_reg(R1, R0), I.mov_imm(R2, 0), I.call(RINGBUF_SUBMIT))
    discard = I.program(I.mov_reg(R1, R0), I.mov_imm(R2, 0), I.call(RINGBUF_DISCARD))
    if discard_every:
        # r6 % n == 0 -> discard, else submit
        choose = I.program(
            I.mov_reg(R7, R6), I.alu_imm(I.MOD, R7, discard_every),
            I.jmp_imm(I.JEQ, R7, 0, I.count(submit) + 1),
            submit, I.ja(I.count(discard)), discard)
    else:
        choose = submit
    fill = I.program(
        I.stx(8, R0, 0, R6),
        I.mov_reg(R7, R6), I.alu_imm(I.XOR, R7, -1), I.stx(8, R0, 8, R7))
    emit_reserve = I.program(
        I.ld_map_fd(R1, ring_fd), I.mov_imm(R2, 16), I.mov_imm(R3, 0),
        I.call(RINGBUF_RESERVE),
        I.jmp_imm(I.JNE, R0, 0, I.count(lost) + 1),
        lost, I.ja(I.count(fill) + I.count(choose)),
        fill, choose)
    emit = emit_reserve if reserve else emit_output
    body = I.program(
        I.st_imm(4, R10, -20, 0),
        I.ld_map_fd(R1, state_fd),
        I.mov_reg(R2, R10), I.alu_imm(I.ADD, R2, -20),
        I.call(MAP_LOOKUP_ELEM),
        I.jmp_imm(I.JEQ, R0, 0, 3 + I.count(emit)),
        I.ldx(8, R6, R0, 0), I.alu_imm(I.ADD, R6, 1), I.stx(8, R0, 0, R6),
        emit,
    )
    return I.program(_only_pid(pid, I.count(body)), body, tail)


def stackid_of_pid(stack_fd: int, out_fd: int, pid: int) -> bytes:
    """out[0] = bpf_get_stackid(ctx, stack_map, 0) + 1 for events of pid."""
    body = I.program(
        I.mov_reg(R1, R6), I.ld_map_fd(R2, stack_fd), I.mov_imm(R3, 0),
        I.call(GET_STACKID),
        I.alu_imm(I.ADD, R0, 1), I.stx(8, R10, -16, R0),
        I.st_imm(4, R10, -4, 0),
        I.ld_map_fd(R1, out_fd),
        I.mov_reg(R2, R10), I.alu_imm(I.ADD, R2, -4),
        I.mov_reg(R3, R10), I.alu_imm(I.ADD, R3, -16),
        I.mov_imm(R4, 0),
        I.call(MAP_UPDATE_ELEM),
    )
    # r6 keeps the context across the pid helper call (callee-saved register).
    return I.program(I.mov_reg(R6, R1), _only_pid(pid, I.count(body)), body, _return_zero())


def count_in_array(array_fd: int) -> bytes:
    """array[0] += 1 per event (any process): for timers and software events."""
    return I.program(
        I.st_imm(4, R10, -4, 0),
        I.ld_map_fd(R1, array_fd),
        I.mov_reg(R2, R10), I.alu_imm(I.ADD, R2, -4),
        I.call(MAP_LOOKUP_ELEM),
        I.jmp_imm(I.JEQ, R0, 0, 2),
        I.mov_imm(R1, 1), I.atomic_add(8, R0, 0, R1),
        _return_zero(),
    )


def count_by_user_value(map_fd: int, addr: int) -> bytes:
    """hash[u64 at user address addr] += 1 per event: how often the event fired
    with each value of a watched variable."""
    return I.program(
        I.mov_reg(R1, R10), I.alu_imm(I.ADD, R1, -8),
        I.mov_imm(R2, 8),
        I.ld_imm64(R3, addr),
        I.call(PROBE_READ_USER),
        _count_key_at(map_fd, -8),
    )
