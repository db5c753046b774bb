"""The `pytrace` command: flags in, one library call out, errors as one clean message.

Everything here is a thin layer over the library (pytrace.parser,
pytrace.session, ...), so anything the shell can do, Python can do too. The
flags themselves, their words and the help text are pytrace.cli_options.
"""

from __future__ import annotations

import os
import sys

from pytrace.cli_options import HELP, Options, UsageError, parse_options
from pytrace.diagnostics import PytraceError, Source
from pytrace.output.stream import OutputStream, discard_pending, whole_write_text_stream


def read_program(opts: Options) -> tuple[Source, list[str]]:
    """The program source and the positional parameters that follow it: `-e`
    text, a script file, or `-` for standard input."""
    if opts.program is not None:
        return Source(opts.program, "stdin"), list(opts.args)
    if not opts.args:
        raise UsageError("filename or -e 'program' required")
    path, params = opts.args[0], list(opts.args[1:])
    if path == "-":
        return Source(_decode(sys.stdin.buffer.read()), "stdin"), params
    hint = ""
    if not os.path.isfile(path):
        # `pytrace opensnoop 1234`: a tool from scripts/ by name.
        from pytrace.tools import find_tool
        opts.tool = find_tool(path)
        if opts.tool is not None:
            path = opts.tool
        elif os.sep not in path:
            hint = " (nor is it a tool: `pytrace --tools` lists them)"
    try:
        with open(path, "rb") as f:
            return Source(_decode(f.read()), path), params
    except OSError as e:
        raise PytraceError(f"failed to open file '{path}': {e.strerror}{hint}") from None


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def run_cli(argv: list[str]) -> int:
    if not argv:
        # As bpftrace: a bare `pytrace` is a request for the usage, and a failure.
        sys.stderr.write(HELP)
        return 1
    opts = parse_options(argv)
    if opts.help:
        sys.stdout.write(HELP)
        return 0
    if opts.version:
        from pytrace.cli_options import version_text
        uname = os.uname()   # the local kernel: --version describes this installation
        sys.stdout.write(version_text(f"{uname.sysname} {uname.release} {uname.machine}"))
        return 0
    if opts.info:
        from pytrace.info import print_info
        return print_info(opts.target)
    if opts.tools:
        from pytrace.tools import list_tools
        return list_tools(sys.stdout)
    if opts.listing and opts.program is None:
        if len(opts.args) > 1:
            raise UsageError("-l takes one search: " + " ".join(opts.args))
        from pytrace.listing import list_probes
        return list_probes(opts.args[0] if opts.args else "*", verbose=opts.verbose,
                           pid=opts.pid, target_name=opts.target)
    source, params = read_program(opts)
    try:
        from pytrace.session import Session, run_from_cli
        if opts.debug == ["ast"]:
            from pytrace.ast_dump import dump_ast
            from pytrace.nesting import call_with_deep_stack
            session = Session(source, include_dirs=opts.include_dirs,
                              include_files=opts.include_files)
            sys.stdout.write(call_with_deep_stack(lambda: dump_ast(session.parse()),
                                                  source.text))
            return 0
        return run_from_cli(opts, source, params)
    except PytraceError as e:
        # Errors point into this program unless a stage said otherwise.
        if getattr(e, "source", None) is None:
            e.source = source
        if opts.tool and e.may_be_what_the_machine_lacks:
            from pytrace.tools import needs_note
            e.note = needs_note(opts.tool)
        raise


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    stdout = sys.stdout
    ours = None
    if not isinstance(stdout, OutputStream):
        # A full disk or a device that refuses writes is one clean error, not a
        # traceback; a Ctrl-C while a reader holds up stdout loses nothing.
        ours = OutputStream(whole_write_text_stream(stdout), "standard output")
        sys.stdout = ours
    try:
        return _main(argv)
    finally:
        if ours is not None:
            _flush_at_exit(ours)
        sys.stdout = stdout


def _flush_at_exit(stream: OutputStream) -> None:
    try:
        stream.flush()
    except BrokenPipeError:
        discard_pending(stream)
    except PytraceError as e:
        print(e.render(None), file=sys.stderr)


def _main(argv: list[str]) -> int:
    try:
        return run_cli(argv)
    except UsageError as e:
        print(f"ERROR: {e.message} (see pytrace --help)", file=sys.stderr)
        return 1
    except PytraceError as e:
        source = getattr(e, "source", None)
        print(e.render(source), file=sys.stderr)
        if getattr(e, "note", None):
            print(e.note, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - a user never sees a traceback
        if os.environ.get("PYTRACE_DEBUG"):
            raise
        print(f"ERROR: internal error: {type(e).__name__}: {e} "
              "(set PYTRACE_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1
