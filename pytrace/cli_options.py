"""The command line's grammar and words: which flags exist, how they are read,
the help text, and the one-line errors for what does not fit.

Flags are read the way bpftrace's getopt reads them (GNU style): short flags
bundle (`-lv`, `-kk`), a short flag's value may be glued on (`-p123`) or
follow, long flags take `--name=value` or `--name value` and may be
abbreviated to any unique prefix, flags may come after positionals, and `--`
ends them. Unlike argparse, nothing here prints or exits: bad input raises
`UsageError` with bpftrace's wording and the CLI prints it as one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytrace.diagnostics import PytraceError

DEBUG_STAGES = ("ast", "ir", "asm", "resources")
FORMATS = ("text", "json")
BUFFERING = ("line", "full", "none")
# PID_MAX_LIMIT on 64-bit kernels: no pid is ever larger.
PID_MAX = 4194304

# Short flags that take a value, and the Options field it goes to.
SHORT_VALUES = {"e": "program", "d": "debug", "o": "output", "c": "command",
                "p": "pid", "f": "format", "B": "buffering", "I": "include_dirs"}
# Short flags without a value.
SHORT_FLAGS = {"l": "listing", "v": "verbose", "q": "quiet", "k": "helper_errors",
               "h": "help", "V": "version"}
# Long flags: name -> (Options field, takes a value).
LONG = {"help": ("help", False), "version": ("version", False), "info": ("info", False),
        "unsafe": ("unsafe", False), "target": ("target", True), "tools": ("tools", False),
        "include": ("include_files", True)}


class UsageError(PytraceError):
    """A flag pytrace does not know, or one without its value: the CLI adds a
    pointer to --help."""


@dataclass
class Options:
    """What the command line asked for; `args` are the positionals in order."""

    program: str | None = None          # -e
    debug: list[str] = field(default_factory=list)
    listing: bool = False               # -l
    verbose: bool = False
    format: str = "text"
    output: str | None = None
    command: str | None = None
    pid: int | None = None
    quiet: bool = False
    helper_errors: int = 0
    buffering: str | None = None
    unsafe: bool = False
    target: str = "local"
    help: bool = False
    version: bool = False
    info: bool = False
    tools: bool = False                 # --tools: list scripts/*.bt
    tool: str | None = None             # the script path when FILENAME named a tool
    include_dirs: list[str] = field(default_factory=list)   # -I DIR, repeatable
    include_files: list[str] = field(default_factory=list)  # --include FILE, repeatable
    args: list[str] = field(default_factory=list)


def parse_options(argv: list[str]) -> Options:
    """The Options for argv (without the program name); UsageError or
    PytraceError for anything that does not fit."""
    opts = Options()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            opts.args.extend(argv[i:])
            break
        if arg.startswith("--"):
            i = _long_flag(opts, arg, argv, i)
        elif arg.startswith("-") and arg != "-" and not _looks_negative(arg):
            i = _short_flags(opts, arg, argv, i)
        else:
            opts.args.append(arg)
    return opts


def _looks_negative(arg: str) -> bool:
    # No flag is a digit: `-5` is a positional parameter ($1 = -5).
    return arg[1:].isdigit()


def _short_flags(opts: Options, arg: str, argv: list[str], i: int) -> int:
    j = 1
    while j < len(arg):
        letter = arg[j]
        if letter in SHORT_FLAGS:
            _set_flag(opts, SHORT_FLAGS[letter])
            j += 1
            continue
        if letter not in SHORT_VALUES:
            raise UsageError(f"invalid option -- '{letter}'")
        value = arg[j + 1:]
        if not value:
            if i >= len(argv):
                raise UsageError(f"option requires an argument -- '{letter}'")
            value, i = argv[i], i + 1
        _set_value(opts, SHORT_VALUES[letter], value)
        break
    return i


def _long_flag(opts: Options, arg: str, argv: list[str], i: int) -> int:
    name, has_value, value = arg[2:].partition("=")
    matches = [n for n in LONG if n.startswith(name)] if name else []
    if name in LONG:
        matches = [name]
    if not matches:
        raise UsageError(f"unrecognized option '--{name}'")
    if len(matches) > 1:
        raise UsageError(f"option '--{name}' is ambiguous; possibilities: "
                         + " ".join(f"'--{n}'" for n in matches))
    dest, takes_value = LONG[matches[0]]
    if not takes_value:
        if has_value:
            raise UsageError(f"option '--{matches[0]}' doesn't allow an argument")
        _set_flag(opts, dest)
        return i
    if not has_value:
        if i >= len(argv):
            raise UsageError(f"option '--{matches[0]}' requires an argument")
        value, i = argv[i], i + 1
    _set_value(opts, dest, value)
    return i


def _set_flag(opts: Options, dest: str) -> None:
    if dest == "helper_errors":
        opts.helper_errors += 1   # -k, -kk
    else:
        setattr(opts, dest, True)


def _set_value(opts: Options, dest: str, value: str) -> None:
    if dest == "pid":
        opts.pid = parse_pid(value)
    elif dest == "debug":
        if value not in DEBUG_STAGES:
            raise PytraceError(f"Invalid debug stage \"{value}\" "
                               f"(valid stages: {', '.join(DEBUG_STAGES)})")
        opts.debug.append(value)
    elif dest == "format" and value not in FORMATS:
        raise PytraceError(f"Invalid output format \"{value}\" "
                           f"(valid formats: {', '.join(FORMATS)})")
    elif dest == "buffering" and value not in BUFFERING:
        raise PytraceError("-B must be either 'line', 'full', or 'none'")
    elif dest in ("include_dirs", "include_files"):
        getattr(opts, dest).append(value)
    else:
        setattr(opts, dest, value)


def parse_pid(text: str) -> int:
    """-p's value, checked as bpftrace checks it."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise PytraceError(f"pid '{text}' is not a valid decimal number")
    pid = int(text)
    if not 1 <= pid <= PID_MAX:
        raise PytraceError(f"pid '{text}' out of valid pid range [1,{PID_MAX}]")
    return pid


HELP = """\
USAGE:
    pytrace [options] filename [ARGS ...]
    pytrace [options] TOOL [ARGS ...]       (a standard tool by name: see --tools)
    pytrace [options] - <program on standard input>
    pytrace [options] -e 'program' [ARGS ...]
    pytrace -l [search]

    ARGS are the program's positional parameters: $1, $2, ... and $#.

OPTIONS:
    -e 'program'   run this program text
    -l [search]    list the probes matching search (all without one); -lv adds their arguments
    -p PID         trace uprobes and USDT probes in process PID only; exit when it exits
    -c 'CMD'       start CMD, trace until it exits; cpid is its pid
    -o file        write the trace output to file
    -f FORMAT      output format: 'text' (the default) or 'json'
    -B MODE        output buffering: 'line', 'full' or 'none'
    -q             quiet: no "Attaching N probes..." line
    -k             warn when a map update or delete fails in the kernel
    -kk            ... and when a memory read fails too
    --unsafe       allow functions that act outside the trace: system(), signal(), override()
    -I DIR         look for #include files in DIR too
    --include FILE #include FILE before the program
    --target WHERE the machine to trace: local (the default), ssh://[user@]host[:port],
                   adb[:serial], or exec:COMMAND (a command reaching the target's python3)
    --info         what this kernel offers: BPF helpers, features, map, program and probe types
    --tools        list the standard tools, one line each (run one as: pytrace NAME [ARGS])
    -h, --help     this help
    -V, --version  pytrace's version, with the LLVM and the kernel it runs with

TROUBLESHOOTING OPTIONS:
    -v             verbose: each program's instruction count and what the verifier walked
    -d STAGE       (dry run) print one stage and stop before loading: ast, ir, asm, resources

ENVIRONMENT:
    BPFTRACE_STRLEN         [default: 64] bytes str() reads (at most 200); buf()'s longest
    BPFTRACE_MAP_KEYS_MAX   [default: 4096] keys a map can hold
    BPFTRACE_CAT_BYTES_MAX  [default: 10240] bytes cat() reads from a file
    BPFTRACE_MAX_PROBES     [default: 512] the most probes a program may attach
    BPFTRACE_MAX_BPF_PROGS  [default: 512] the most BPF programs a probe may expand into
    BPFTRACE_PERF_RB_PAGES  [default: unset: 4 MiB] event buffer pages per CPU (a power of 2)
    BPFTRACE_STACK_MODE     [default: bpftrace] kstack/ustack mode: bpftrace, perf or raw
    BPFTRACE_NO_CPP_DEMANGLE [default: 0] 1: print C++ names in stacks and usym() as mangled
    BPFTRACE_NO_USER_SYMBOLS [default: 0] 1: user addresses print as hex, not resolved
    BPFTRACE_CACHE_USER_SYMBOLS [default: 0] accepted (checked); a run reads symbols once
    BPFTRACE_LOG_SIZE       [default: 1000000] accepted (checked); the verifier log grows as needed
    BPFTRACE_MAX_TYPE_RES_ITERATIONS [default: 0] accepted (checked); BTF types resolve as used
    PYTRACE_PRINT_ORDER     [default: ascending] descending: maps print largest first (pytrace's own)
    PYTRACE_CACHE_DIR       [default: $XDG_CACHE_HOME/pytrace] where the kernel's BTF index is cached
    XDG_CACHE_HOME          [default: ~/.cache] holds pytrace/: parser tables, BTF index
    PYTRACE_NO_PARSER_CACHE [default: unset] set: rebuild the parser tables, do not cache them
    PYTRACE_DEBUG           [default: unset] set: an internal error shows its Python traceback
    PYTRACE_REMOTE_PYTHON   [default: python3] the Python that runs the agent on a --target
    PYTRACE_SSH_OPTS        [default: none] more options for ssh with --target ssh://
    PYTRACE_REMOTE_TIMEOUT  [default: 30] seconds to wait for a --target's agent to answer
    PYTRACE_REMOTE_STATS    [default: unset] set: a remote run reports its round trips
    PYTRACE_REMOTE_TRACE    [default: unset] set: each request to a remote agent on stderr

EXAMPLES:
pytrace -l 'tracepoint:syscalls:*open*'
    list the tracepoints of open system calls
pytrace -e 'tracepoint:syscalls:sys_enter_openat { printf("%s %s\\n", comm, str(args.filename)); }'
    print each file opened, and by which program
pytrace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
    count system calls per program name, printed on Ctrl-C
"""


def version_text(kernel: str) -> str:
    """`pytrace --version`: the first line as bpftrace's (`NAME vX.Y.Z`), then what
    pytrace compiles with and what it runs on. llvmlite's binding is imported here
    only: it costs ~50 ms and a normal run loads it only when compiling."""
    import platform

    import llvmlite
    import llvmlite.binding

    from pytrace import __version__
    llvm = ".".join(str(n) for n in llvmlite.binding.llvm_version_info)
    return (f"pytrace v{__version__}\n"
            f"LLVM {llvm} (llvmlite {llvmlite.__version__}), "
            f"Python {platform.python_version()}\n"
            f"kernel {kernel}\n")
