"""One trace from program text to printed maps: the library API under the CLI.

`Session` holds what a run needs (program text, parameters, target, output
stream and format, -c/-p) and does parse -> compile -> load -> run through the
runtime; `run()` is the one-call form and `run_from_cli` maps the command
line's options onto a Session. Debug stages (-d ir/asm/resources) print and
return before anything is loaded.
"""

from __future__ import annotations

import gc
import io
import os
import pprint
import sys
from dataclasses import dataclass, field

from pytrace.diagnostics import PytraceError, Source
from pytrace.output.stream import OutputStream


@dataclass
class Session:
    """One run of pytrace: the program, its options, and the stages that run it."""

    program: str | Source
    params: list[str] = field(default_factory=list)
    target: object | None = None       # a Target; LocalTarget() when None
    output: object | None = None       # text stream; sys.stdout when None
    format: str = "text"
    quiet: bool = False
    command: str | None = None         # -c: run it, trace until it exits
    pid: int | None = None             # -p: trace until it exits
    verbose: bool = False
    verbose_stream: object | None = None
    separator_stream: object | None = None  # where "\n\n" goes if not `output`
    flush_each_batch: bool = True
    helper_errors: int = 0
    unsafe: bool = False               # --unsafe: allow system(), signal(), override()
    warning_stream: object | None = None  # stderr when None
    include_dirs: list[str] = field(default_factory=list)   # -I DIR
    include_files: list[str] = field(default_factory=list)  # --include FILE
    # The CLI's one run per process: no cyclic GC until tracing starts (see run()).
    quick_start: bool = False
    # The CLI's too: the process exits next, so closes that are slow in the kernel
    # but stop nothing (trace events already unlinked) finish in a child.
    background_release: bool = False

    def __post_init__(self):
        if isinstance(self.program, str):
            self.program = Source(self.program, "stdin")

    # ---- stages --------------------------------------------------------------------
    def get_target(self):
        if self.target is None:
            from pytrace.target.local import LocalTarget
            self.target = LocalTarget()
        return self.target

    def parse(self):
        from pytrace.parser import parse_runnable
        return parse_runnable(self.program, self.preprocess_options())

    def preprocess_options(self):
        """-I, --include, the script's directory, and BPFTRACE_HAVE_BTF if the target has BTF."""
        from pytrace.preprocessor import HAVE_BTF, PreprocessOptions
        name = self.program.name
        script_dir = os.path.dirname(name) if name != "stdin" else os.getcwd()
        defines = {}
        options = PreprocessOptions(list(self.include_dirs), list(self.include_files), defines,
                                    script_dir or ".")
        # Only directives read it: a one-liner does not pay for the BTF module.
        if "#" in self.program.text or self.include_files:
            from pytrace.kernel.btf import VMLINUX_PATH
            if self.get_target().path_exists(VMLINUX_PATH):
                defines[HAVE_BTF] = "1"
            options.machine = self.get_target().machine
        return options

    def compile(self, cpid: int = 0):
        from pytrace.compiler import compile_program
        from pytrace.nesting import call_with_deep_stack

        def parse_and_compile():
            return compile_program(self.parse(), self.get_target(), params=list(self.params),
                                   source=self.program, options=self.compile_options(cpid))
        # The recursive stages need room for deeply nested programs (pytrace/nesting.py).
        compiled = call_with_deep_stack(parse_and_compile, self.program.text)
        # Like bpftrace: located warnings go to stderr and the program still runs.
        stream = self.warning_stream if self.warning_stream is not None else sys.stderr
        for warning in compiled.warnings:
            print(warning.render(self.program), file=stream)
        return compiled

    def compile_options(self, cpid: int) -> dict:
        return {"cpid": cpid, "pid": self.pid, "helper_errors": self.helper_errors,
                "unsafe": self.unsafe, "settings": environment_settings()}

    # ---- running --------------------------------------------------------------------
    def run(self) -> int:
        """Compile, load, trace until the end, print the maps; the exit code."""
        if not (self.quick_start and gc.isenabled()):
            return self._run(quick_start=False)
        # Start-up creates thousands of long-lived objects (modules, classes, types,
        # IR) and few garbage cycles: the cyclic GC would walk them ~40 times (~10 ms)
        # before the first event. Off until tracing starts; then what start-up made
        # is frozen (it lives until the process ends) so collections skip it.
        gc.disable()
        try:
            return self._run(quick_start=True)
        finally:
            gc.enable()

    def _run(self, quick_start: bool) -> int:
        from pytrace.output.sink import make_sink
        from pytrace.runtime.loader import load
        from pytrace.runtime.loop import TraceOptions, run_trace
        from pytrace.runtime.symbols import TargetSymbols

        target = self.get_target()
        child = watched = loaded = None
        try:
            if getattr(target, "connecting", False):
                # While the remote agent starts: ask for the facts the probes
                # read (they come with its handshake), then load LLVM.
                self._prefetch_facts(target)
                _import_compiler()
            target.check_privileges()
            if self.command:
                child = target.start_command(self.command)
            elif self.pid is not None:
                watched = target.watch_process(self.pid)
            try:
                compiled = self.compile(cpid=child.pid if child else 0)
            except Exception:   # noqa: BLE001 - re-raised
                # A remote target checks privileges at its HELLO, which may not
                # have come yet: that error comes first, as on this machine.
                target.sync()
                raise
            loaded = load(target, compiled.object, compiled.resources)
            if self.verbose:
                self.report_programs(loaded)
            out = self.output if self.output is not None else sys.stdout
            sink = make_sink(self.format, out)
            if self.quiet:
                sink.attached_probes = lambda n: None
            options = TraceOptions(
                attached_count=compiled.attached_count,
                attach_options=self.compile_options(child.pid if child else 0),
                child=child, watched=watched,
                flush_each_batch=self.flush_each_batch,
                separator=self.separator_stream, source=self.program)
            child = watched = None  # run_trace owns them now
            symbols = TargetSymbols(target, compiled.resources, loaded)
            if quick_start:
                gc.freeze()
                gc.enable()
            return run_trace(target, loaded, sink, symbols, options)
        finally:
            if child is not None:
                child.stop()
            if watched is not None:
                watched.close()
            if loaded is not None:
                loaded.close(target)
            target.close_all(background=self.background_release)

    def _prefetch_facts(self, target) -> None:
        """Parse and tell the target the facts the probes will read. A program
        that does not parse is left for compile() to report."""
        from pytrace.passes.expand import prefetch_facts
        from pytrace.passes.state import CompileState
        try:
            program = self.parse()
            prefetch_facts(CompileState(program, target, list(self.params), self.program))
        except Exception:   # noqa: BLE001 - compile() meets it again and reports it
            return

    def report_programs(self, loaded) -> None:
        """-v: each program's size as loaded and what the verifier walked."""
        from pytrace.runtime.loader import program_title
        stream = self.verbose_stream or sys.stderr
        for prog in loaded.programs:
            info = self.get_target().prog_info(prog.fd)
            title = program_title(prog.spec, loaded.resources)
            stream.write(f"Program {title}: {prog.insn_count} instructions, "
                         f"{info.get('xlated_insns', 0)} after verification, "
                         f"{info.get('verified_insns', 0)} verified\n")
        stream.flush()

    # ---- debug stages -----------------------------------------------------------------
    def debug_text(self, stage: str) -> str:
        compiled = self.compile()
        if stage == "ir":
            return compiled.ir
        if stage == "asm":
            return compiled.asm()
        if stage == "resources":
            return pprint.pformat(compiled.resources, width=100, sort_dicts=False) + "\n"
        raise PytraceError(f"unknown debug stage {stage}")


def run(program: str, *args: str, **options) -> int:
    """Run a bpftrace program as `pytrace -e` would: `run("BEGIN { exit(); }")`."""
    return Session(program, params=list(args), **options).run()


def trace_output(program: str, *args: str, **options) -> str:
    """Run a program and return the text it printed (banner, events, maps)."""
    out = io.StringIO()
    options.setdefault("separator_stream", None)
    Session(program, params=list(args), output=out, **options).run()
    return out.getvalue()


# ---- the command line ---------------------------------------------------------------------

def run_from_cli(opts, source: Source, params: list[str]) -> int:
    session = Session(source, params=params, format=opts.format, quiet=opts.quiet,
                      command=opts.command, pid=opts.pid, verbose=opts.verbose,
                      helper_errors=opts.helper_errors, unsafe=opts.unsafe)
    session.include_dirs, session.include_files = opts.include_dirs, opts.include_files
    if opts.target not in (None, "local"):
        from pytrace.target.choose import open_target
        session.target = open_target(opts.target)
    if opts.debug:
        try:
            for stage in opts.debug:
                sys.stdout.write(session.debug_text(stage))
            sys.stdout.flush()
        finally:
            if session.target is not None:
                session.target.close_all()
        return 0
    stream = _output_stream(opts)
    try:
        session.output = stream
        if opts.output:
            session.separator_stream = sys.stdout
        session.flush_each_batch = opts.buffering != "full"
        session.quick_start = True
        # The process ends right after: slow kernel clean-up may outlive it.
        session.background_release = True
        return session.run()
    finally:
        if opts.output:
            stream.close()
        else:
            stream.flush()


def _output_stream(opts):
    """stdout or the -o file, line-buffered on a terminal or with -B line."""
    if opts.output:
        buffering = {"line": 1, "none": 1, "full": -1}.get(opts.buffering or "full", -1)
        try:
            return OutputStream(open(opts.output, "w", buffering=buffering, encoding="utf-8",
                                     errors="surrogateescape"), opts.output)
        except OSError as e:
            raise PytraceError(f"Could not open output file {opts.output}: "
                               f"{e.strerror}") from None
    stream = sys.stdout
    line = opts.buffering == "line" or (opts.buffering is None and _isatty(stream))
    if hasattr(stream, "reconfigure"):
        stream.reconfigure(line_buffering=line, write_through=opts.buffering == "none",
                           errors="surrogateescape")
    return stream


def _isatty(stream) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


def environment_settings() -> dict:
    """The BPFTRACE_* variables that are set (pytrace.settings.SETTINGS), by
    Settings field, each checked as bpftrace checks it."""
    from pytrace.settings import SETTINGS, flag_value, mode_value, order_value
    values: dict = {}
    for setting in SETTINGS:
        text = os.environ.get(setting.env)
        if text is None:
            continue
        if setting.kind == "count":
            values[setting.field] = _env_count(setting.env)
        elif setting.kind == "flag":
            values[setting.field] = flag_value(setting.env, text)
        elif setting.kind == "order":
            values[setting.field] = order_value(setting.env, text)
        else:
            values[setting.field] = mode_value(setting.env, text)
    return values


def _import_compiler() -> None:
    """Load the compiler and LLVM now (~35 ms): a remote agent is starting
    meanwhile. A failure here is reported where the compiler is used."""
    try:
        from pytrace.codegen.module import _target_machine
        _target_machine()
    except Exception:  # noqa: BLE001 - see the docstring
        pass


def _env_count(name: str) -> int:
    """A positive integer from the environment (bpftrace's tuning variables); 0
    when unset."""
    text = os.environ.get(name)
    if text is None:
        return 0
    digits = text.strip()
    if (not (digits.isascii() and digits.isdigit()) or len(digits) > 20
            or not 0 < int(digits) < 1 << 64):
        raise PytraceError(f"Env var '{name}' did not contain a valid uint64_t, or was "
                           "zero-valued.")
    return int(text)
