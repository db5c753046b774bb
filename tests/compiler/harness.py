"""Helpers for compiler tests: compile program text, load it, run it, read what it wrote.

Facts-only tests use `FactsTarget` (this machine's files, no bpf calls). Kernel
tests load through the runtime's loader into a LocalTarget and read ring buffer
records and maps back as raw bytes, decoding just enough to assert behaviour.
"""

from __future__ import annotations

import os
import struct
from contextlib import contextmanager

from pytrace.compiler import compile_program
from pytrace.diagnostics import PytraceError, Source
from pytrace.parser import parse
from pytrace.target.files import LocalFiles


class FactsTarget(LocalFiles):
    """A Target that only answers file questions: enough to compile."""


def compile_text(text: str, params=(), target=None, cpid: int = 0):
    source = Source(text)
    return compile_program(parse(source), target or FactsTarget(), params=list(params),
                           source=source, cpid=cpid)


def compile_error(text: str, params=()) -> str:
    """The rendered error for a program that must not compile."""
    source = Source(text)
    try:
        compile_program(parse(source), FactsTarget(), params=list(params), source=source)
    except PytraceError as e:
        return e.render(source)
    raise AssertionError(f"compiled without error: {text}")


class Run:
    """A loaded program: run BEGIN, attach probes, read records and maps."""

    def __init__(self, target, compiled, loaded):
        self.target, self.compiled, self.loaded = target, compiled, loaded
        self.res = compiled.resources
        self.handles = []
        self.reader = target.ring_buffer(loaded.map_fd(".events"))

    def run(self, prog_type: str) -> None:
        for p in self.loaded.programs:
            if p.spec.prog_type == prog_type:
                self.target.prog_test_run(p.fd)

    def attach(self) -> None:
        from pytrace.probes import get_provider
        for p in self.loaded.programs:
            for spec in p.spec.attach:
                h = get_provider(spec.provider).attach(self.target, p.fd, spec, {})
                if h is not None:
                    self.handles.append(h)

    def detach(self) -> None:
        while self.handles:
            self.target.detach(self.handles.pop())

    def records(self) -> list[tuple[str, tuple]]:
        """(action kind, decoded args) for every record so far."""
        out = []
        for raw in self.reader.poll(0):
            (action_id,) = struct.unpack_from("<Q", raw)
            action = self.res.actions[action_id]
            out.append((action.kind, decode(action.args, raw[8:])))
        return out

    def map_entries(self, name: str) -> dict:
        """key tuple -> raw per-CPU value bytes list (or bytes for non-per-CPU maps)."""
        spec = self.res.map(name)
        fd = self.loaded.map_fd(name)
        out = {}
        key = None
        ncpu = self.target.num_possible_cpus()
        while True:
            key = self.target.map_get_next_key(fd, key, spec.key_size)
            if key is None:
                break
            value = self.target.map_lookup(fd, key, spec.value_size)
            layout = spec.key_layout if spec.key_types else None
            if spec.has_bucket_key:
                from pytrace.types import TupleType, UINT64
                layout = TupleType(tuple(spec.key_types) + (UINT64,))
            k = decode(layout, key) if layout is not None else ()
            if spec.bpf_type.startswith("percpu"):
                step = (spec.value_size + 7) // 8 * 8
                out[k] = [value[i * step:(i + 1) * step] for i in range(ncpu)]
            else:
                out[k] = value
        return out

    def counts(self, name: str) -> dict:
        """A count/sum/hist map as key -> the u64 (or i64) summed over CPUs."""
        return {k: sum(struct.unpack_from("<q", v)[0] for v in vals)
                for k, vals in self.map_entries(name).items()}


def decode(layout, data: bytes) -> tuple:
    from pytrace.types import IntType, SpecialType, StringType, TupleType
    values = []
    for ty, off in zip(layout.elems, layout.offsets):
        chunk = data[off:off + ty.size]
        if isinstance(ty, StringType):
            values.append(chunk.split(b"\0", 1)[0].decode("utf-8", "replace"))
        elif isinstance(ty, TupleType):
            values.append(decode(ty, chunk))
        elif isinstance(ty, (IntType, SpecialType)) or ty.is_integer:
            signed = isinstance(ty, IntType) and ty.signed
            values.append(int.from_bytes(chunk, "little", signed=signed))
        else:
            values.append(chunk)
    return tuple(values)


@contextmanager
def loaded(text: str, params=(), cpid: int = 0):
    from pytrace.runtime.loader import load
    from pytrace.target.local import LocalTarget
    target = LocalTarget()
    compiled = compile_text(text, params, target, cpid)
    obj = load(target, compiled.object, compiled.resources)
    run = Run(target, compiled, obj)
    try:
        yield run
    finally:
        run.detach()
        run.reader.close()
        obj.close(target)
        target.close_all()


def getppid_n(n: int) -> None:
    for _ in range(n):
        os.getppid()
