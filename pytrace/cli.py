"""The `pytrace` command: flags in, one library call out, errors as one clean message.

Everything here is a thin layer over the library (pytrace.parser,
pytrace.session, ...), so anything the shell can do, Python can do too.
"""

from __future__ import annotations

import argparse
import os
import sys

from pytrace.diagnostics import PytraceError, Source
from pytrace.output.stream import OutputStream

DEBUG_STAGES = ("ast", "ir", "asm", "resources")


def build_arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pytrace",
        description="Trace Linux with bpftrace programs, compiled in Python.",
        usage="pytrace [options] [FILENAME | -e PROGRAM] [ARGS ...]",
    )
    p.add_argument("-e", dest="program", metavar="PROGRAM", help="program text")
    p.add_argument("-d", dest="debug", metavar="STAGE", action="append",
                   choices=DEBUG_STAGES,
                   help="print a stage (ast, ir, asm, resources) and exit without loading")
    p.add_argument("-l", dest="list", nargs="?", const="*", metavar="SEARCH",
                   help="list probes matching SEARCH")
    p.add_argument("-v", dest="verbose", action="store_true",
                   help="verbose: instruction counts and verifier statistics")
    p.add_argument("-f", dest="format", choices=("text", "json"), default="text",
                   help="output format")
    p.add_argument("-o", dest="output", metavar="FILE", help="write trace output to FILE")
    p.add_argument("-c", dest="command", metavar="CMD",
                   help="run CMD and trace until it exits (cpid is its pid)")
    p.add_argument("-p", dest="pid", type=int, metavar="PID",
                   help="restrict uprobes/USDT to PID and exit when it exits")
    p.add_argument("-q", dest="quiet", action="store_true", help="quiet: no banner")
    p.add_argument("-k", dest="helper_errors", action="count", default=0,
                   help="report errors from BPF helpers")
    p.add_argument("-B", dest="buffering", choices=("line", "full", "none"),
                   help="output buffering")
    p.add_argument("--unsafe", action="store_true",
                   help="allow functions with side effects outside the trace: "
                        "system(), signal(), override()")
    p.add_argument("--target", default="local",
                   help="where to trace: local, ssh://[user@]host, adb[:serial], cmd:COMMAND")
    p.add_argument("args", nargs="*", metavar="ARGS",
                   help="script file (without -e) and positional parameters $1...")
    return p


def read_program(opts) -> tuple[Source, list[str]]:
    """The program source and the positional parameters that follow it."""
    if opts.program is not None:
        return Source(opts.program, "stdin"), list(opts.args)
    if not opts.args:
        raise PytraceError("No program given: use -e PROGRAM or a script FILENAME")
    path, params = opts.args[0], list(opts.args[1:])
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return Source(f.read(), path), params
    except OSError as e:
        raise PytraceError(f"Could not read program file {path}: {e.strerror}") from None


def take_program_text(argv: list[str]) -> tuple[list[str], str | None]:
    """Pull `-e TEXT` out before argparse, which mangles values like '-x' or '--'."""
    rest, program, i = [], None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg == "-e" and i + 1 < len(argv):
            program = argv[i + 1]
            i += 2
            continue
        if arg.startswith("-e") and not arg.startswith("--"):
            program = arg[2:]
        else:
            rest.append(arg)
        i += 1
    return rest, program


def run_cli(argv: list[str]) -> int:
    argv, program = take_program_text(argv)
    opts = build_arg_parser().parse_args(argv)
    if program is not None:
        opts.program = program
    if opts.list is not None and opts.program is None:
        from pytrace.listing import list_probes, take_list_search
        if take_list_search(opts):  # `-lv SEARCH`, `-l -v SEARCH`
            return list_probes(opts)
    source, params = read_program(opts)
    try:
        if opts.debug and opts.debug == ["ast"]:
            from pytrace.ast_dump import dump_ast
            from pytrace.nesting import call_with_deep_stack
            from pytrace.parser import parse
            sys.stdout.write(call_with_deep_stack(lambda: dump_ast(parse(source)),
                                                  len(source.text)))
            return 0
        from pytrace.session import run_from_cli
        return run_from_cli(opts, source, params)
    except PytraceError as e:
        # Errors point into this program unless a stage said otherwise.
        if getattr(e, "source", None) is None:
            e.source = source
        raise


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    stdout = sys.stdout
    if not isinstance(stdout, OutputStream):
        # A full disk or a device that refuses writes is one clean error, not a traceback.
        sys.stdout = OutputStream(stdout, "standard output")
    try:
        return _main(argv)
    finally:
        sys.stdout = stdout


def _main(argv: list[str]) -> int:
    try:
        return run_cli(argv)
    except PytraceError as e:
        source = getattr(e, "source", None)
        print(e.render(source), file=sys.stderr)
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
