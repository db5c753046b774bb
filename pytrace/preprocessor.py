"""The C preprocessor subset bpftrace scripts use, run on the text before lexing.

Directive lines (`#define`, `#undef`, `#if`, `#ifdef`, `#ifndef`, `#elif`,
`#else`, `#endif`) and lines in branches not taken become empty lines, so every
other token keeps its line and column. `#include` lines in taken branches stay
for the grammar (an `Include` node each). Object-like macros are returned, not
substituted here: the lexer expands an identifier that names one (as bpftrace
0.17, which has no function-like macros in programs: `F(x)` stays a call).

Headers: there is no C compiler here and types come from the kernel's BTF, so a
header is only read for its `#define` constants (and, for the script's own
headers, its struct/union/enum definitions). It is looked for next to the
script (`"..."` only), then in the `-I` directories, then in the system include
directories. A `<header>` found nowhere is a kernel header: accepted, its types
come from BTF. Kernel headers also define a few ABI constants that BTF cannot
carry (task states, address families); KERNEL_HEADER_MACROS holds those.
"""

from __future__ import annotations

import ast as pyast
import os
import re
from dataclasses import dataclass, field

from pytrace.diagnostics import PytraceError, Span

# Defined when the target has BTF (the tools test it to skip kernel headers).
HAVE_BTF = "BPFTRACE_HAVE_BTF"

# The middle one is the target's multiarch directory (`{machine}`: x86_64, aarch64).
SYSTEM_INCLUDE_DIRS = ("/usr/local/include", "/usr/include/{machine}-linux-gnu", "/usr/include")

# Macros of kernel-internal headers (not shipped in /usr/include) that scripts
# compare against: stable kernel ABI values, which BTF does not record.
KERNEL_HEADER_MACROS = {
    "linux/sched.h": {
        "TASK_RUNNING": "0", "TASK_INTERRUPTIBLE": "1", "TASK_UNINTERRUPTIBLE": "2",
        "__TASK_STOPPED": "4", "__TASK_TRACED": "8", "EXIT_DEAD": "16",
        "EXIT_ZOMBIE": "32", "TASK_PARKED": "64", "TASK_DEAD": "128",
        "TASK_WAKEKILL": "256", "TASK_WAKING": "512", "TASK_NOLOAD": "1024",
        "TASK_NEW": "2048",
    },
    "linux/socket.h": {
        "AF_UNSPEC": "0", "AF_UNIX": "1", "AF_LOCAL": "1", "AF_INET": "2",
        "AF_INET6": "10", "AF_NETLINK": "16", "AF_PACKET": "17",
    },
}

# What the system headers test to pick this machine's definitions.
PREDEFINED = {"__linux__": "1", "__x86_64__": "1", "__LP64__": "1", "__GNUC__": "4",
              "__STDC__": "1", "__CHAR_BIT__": "8"}

_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(\w*)(.*)$")
_DEFINE = re.compile(r"^[ \t]*([A-Za-z_]\w*)(\([^)]*\))?(.*)$", re.S)
_INCLUDE_NAME = re.compile(r'^\s*(<[^>\n]*>|"[^"\n]*")\s*$')
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_C_DEFINITION = re.compile(
    r"(?:struct|union|enum)\s+\w+\s*\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}\s*;"
    r"|typedef\b(?:[^;{}]|\{(?:[^{}]|\{[^{}]*\})*\})*;")


@dataclass
class PreprocessOptions:
    """What the command line adds: -I directories, --include files, predefined macros."""

    include_dirs: list[str] = field(default_factory=list)
    include_files: list[str] = field(default_factory=list)
    defines: dict[str, str] = field(default_factory=dict)
    script_dir: str = "."
    machine: str = "x86_64"  # the target's architecture: picks the multiarch header directory


@dataclass
class Preprocessed:
    text: str  # same number of lines as the input
    macros: dict[str, str]
    header_definitions: list[tuple[str, str]]  # (header path, C definition text)
    # `#include "x.h"` found nowhere: an error when compiling (parsing alone, as
    # -d ast does, needs no header).
    missing: list[PytraceError] = field(default_factory=list)


def preprocess(text: str, options: PreprocessOptions | None = None) -> Preprocessed:
    options = options or PreprocessOptions()
    state = _State(options)
    state.macros.update(options.defines)
    for name in options.include_files:
        state.include_option(name)
    if "#" not in text:  # nearly every one-liner: nothing to do
        return Preprocessed(text, state.macros, state.header_definitions, state.missing)
    out = state.run(text, keep_includes=True, span_lines=True)
    return Preprocessed(out, state.macros, state.header_definitions, state.missing)


class _State:
    def __init__(self, options: PreprocessOptions):
        self.options = options
        self.macros: dict[str, str] = {}
        self.header_definitions: list[tuple[str, str]] = []
        self.read_headers: set[str] = set()
        self.missing: list[PytraceError] = []

    # ---- one file's text ----------------------------------------------------------
    def run(self, text: str, keep_includes: bool, span_lines: bool,
            header: str | None = None) -> str:
        """Directives applied; returns the text with them (and dead branches) blanked."""
        lines = _join_continuations(text.split("\n"))
        # Each open #if: (this branch taken, some branch already taken, outer taken).
        stack: list[list[bool]] = []
        out = []
        in_comment = False
        for number, line in enumerate(lines, 1):
            live = all(frame[0] for frame in stack)
            m = None if in_comment else _DIRECTIVE.match(line)
            if m is None or (number == 1 and line.startswith("#!")):
                in_comment = _ends_in_comment(line, in_comment)
                out.append(line if live else "")
                continue
            name, rest = m.group(1), _COMMENT.sub(" ", m.group(2)).strip()
            span = Span(number, 1, number, len(line) + 1) if span_lines else None
            if name in ("if", "ifdef", "ifndef"):
                taken = live and self.condition(name, rest, span)
                stack.append([taken, taken, live])
            elif name in ("elif", "else"):
                if not stack:
                    raise PytraceError(f"#{name} without #if", span)
                frame = stack[-1]
                taken = frame[2] and not frame[1] and (
                    name == "else" or self.condition("if", rest, span))
                frame[0], frame[1] = taken, frame[1] or taken
            elif name == "endif":
                if not stack:
                    raise PytraceError("#endif without #if", span)
                stack.pop()
            elif not live:
                pass
            elif name == "define":
                self.define(rest, span)
            elif name == "undef":
                self.macros.pop(rest.split()[0] if rest.split() else "", None)
            elif name == "include":
                self.include(rest, span, header)
                if keep_includes:
                    out.append(line)
                    continue
            elif name == "error" and span_lines:
                raise PytraceError(f"#error {rest}", span)
            elif name in ("pragma", "warning", "line", "include_next", "error", "ident"):
                pass
            elif span_lines:
                raise PytraceError(f"unknown preprocessor directive #{name}", span)
            out.append("")
        if stack and span_lines:
            raise PytraceError("unterminated #if: missing #endif",
                               Span(len(lines), 1, len(lines), 1))
        return "\n".join(out)

    def define(self, rest: str, span: Span | None) -> None:
        m = _DEFINE.match(rest)
        if m is None:
            raise PytraceError("macro name missing after #define", span)
        name, params, body = m.group(1), m.group(2), m.group(3).strip()
        if params is not None and not rest[len(name):].startswith("("):
            body = f"{params} {body}".strip()  # `#define X (1)`: not function-like
            params = None
        if params is None:
            # Names defined so far are expanded now: a later #undef does not change
            # this macro (bpftrace 0.17 records macros already expanded).
            self.macros[name] = self.expand(body).strip() if body else body
        else:
            self.macros.pop(name, None)  # function-like: not expanded in programs

    # ---- #if expressions --------------------------------------------------------------
    def condition(self, kind: str, rest: str, span: Span | None) -> bool:
        if kind in ("ifdef", "ifndef"):
            words = rest.split()
            if not words:
                raise PytraceError(f"macro name missing after #{kind}", span)
            return (words[0] in self.macros) == (kind == "ifdef")
        return bool(self.evaluate(rest, span))

    def evaluate(self, expr: str, span: Span | None) -> int:
        expr = re.sub(r"defined\s*\(\s*(\w+)\s*\)|defined\s+(\w+)",
                      lambda m: "1" if (m.group(1) or m.group(2)) in self.macros else "0", expr)
        expr = self.expand(expr)
        expr = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b", r"\1", expr)
        expr = re.sub(r"\b[A-Za-z_]\w*\b", "0", expr)  # undefined names are 0, as in C
        expr = _ternaries(expr.replace("&&", " and ").replace("||", " or "))
        expr = re.sub(r"!(?!=)", " not ", expr)
        try:
            return int(_safe_eval(pyast.parse(expr.strip() or "0", mode="eval").body))
        except _ShiftCount as e:
            if span is None:
                return 0
            raise PytraceError(f"shift count {e.args[0]} out of range in #if "
                               "(must be 0 to 63)", span) from None
        except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
            if span is None:
                return 0  # a system header we cannot read: skip that branch
            raise PytraceError("invalid expression in #if", span) from None

    def expand(self, text: str, depth: int = 0) -> str:
        if depth > 32:
            return text
        # Names outside string literals only.
        changed = re.sub(r'"(?:[^"\\\n]|\\.)*"|\b[A-Za-z_]\w*\b',
                         lambda m: f" {self.macros[m.group()]} " if m.group() in self.macros
                         else m.group(), text)
        return changed if changed == text else self.expand(changed, depth + 1)

    # ---- headers --------------------------------------------------------------------
    def include(self, rest: str, span: Span | None, from_header: str | None = None) -> None:
        m = _INCLUDE_NAME.match(rest)
        if m is None:
            if span is None:
                return
            raise PytraceError("#include expects \"FILE\" or <FILE>", span)
        written = m.group(1)
        name, quoted = written[1:-1], written.startswith('"')
        for macro, value in KERNEL_HEADER_MACROS.get(name, {}).items():
            self.macros.setdefault(macro, value)
        path, user = self.find(name, quoted, from_header)
        if path is None:
            if quoted and span is not None:
                self.missing.append(PytraceError(f"include file not found: '{name}'", span))
            return  # a kernel header: its types come from BTF
        if path in self.read_headers:
            return
        self.read_headers.add(path)
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as e:
            if span is None:
                return
            raise PytraceError(f"Could not read include file {path}: {e.strerror}",
                               span) from None
        kept = self.run(text, keep_includes=False, span_lines=False, header=path)
        if user:
            for d in _C_DEFINITION.finditer(_COMMENT.sub(" ", kept)):
                self.header_definitions.append((path, d.group()))

    def include_option(self, name: str) -> None:
        """--include FILE: as `#include <FILE>`, but a file found nowhere is an error
        (bpftrace 0.17's words) unless it is a kernel header whose constants pytrace has."""
        bare = name[1:-1] if name[:1] in "<\"" and len(name) > 1 else name
        if bare not in KERNEL_HEADER_MACROS and self.find(bare, False, None)[0] is None:
            if not os.path.isfile(bare):  # as a C compiler's -include: also from here
                raise PytraceError(f"'{bare}' file not found")
            name = os.path.abspath(bare)
        self.include(name if name[:1] in "<\"" else f"<{name}>", None)

    def find(self, name: str, quoted: bool,
             from_header: str | None) -> tuple[str | None, bool]:
        """(path, is the user's own header) of an include, or (None, False)."""
        dirs: list[tuple[str, bool]] = []
        if quoted:
            here = os.path.dirname(from_header) if from_header else self.options.script_dir
            dirs.append((here, True))
        dirs += [(d, True) for d in self.options.include_dirs]
        dirs += [(d.format(machine=self.options.machine), False) for d in SYSTEM_INCLUDE_DIRS]
        for directory, user in dirs:
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                return os.path.normpath(path), user
        return None, False


class _ShiftCount(ValueError):
    """A shift by a negative count or by 64 or more: undefined in C, refused here."""


def _wrap64(value: int) -> int:
    """intmax_t, as #if computes: 64-bit two's complement."""
    return ((value + (1 << 63)) & ((1 << 64) - 1)) - (1 << 63)


def _safe_eval(node) -> int:
    """Integer arithmetic of an #if line: numbers and C operators only, in 64 bits."""
    return _wrap64(_eval_node(node))


def _eval_node(node) -> int:
    if isinstance(node, pyast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, pyast.UnaryOp):
        v = _safe_eval(node.operand)
        ops = {pyast.USub: lambda: -v, pyast.UAdd: lambda: v, pyast.Invert: lambda: ~v,
               pyast.Not: lambda: int(not v)}
        return ops[type(node.op)]()
    if isinstance(node, pyast.BoolOp):
        values = [_safe_eval(v) for v in node.values]
        return int(all(values) if isinstance(node.op, pyast.And) else any(values))
    if isinstance(node, pyast.BinOp):
        a, b = _safe_eval(node.left), _safe_eval(node.right)
        ops = {pyast.Add: a + b, pyast.Sub: a - b, pyast.Mult: a * b,
               pyast.BitAnd: a & b, pyast.BitOr: a | b, pyast.BitXor: a ^ b}
        if type(node.op) in ops:
            return ops[type(node.op)]
        if isinstance(node.op, (pyast.Div, pyast.FloorDiv, pyast.Mod)):
            # C divides toward zero (exactly: no float rounding of 64-bit values).
            q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
            return a - q * b if isinstance(node.op, pyast.Mod) else q
        if isinstance(node.op, (pyast.LShift, pyast.RShift)):
            if not 0 <= b < 64:
                raise _ShiftCount(b)
            return a << b if isinstance(node.op, pyast.LShift) else a >> b
    if isinstance(node, pyast.Compare):
        left = _safe_eval(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = _safe_eval(right_node)
            ok = {pyast.Eq: left == right, pyast.NotEq: left != right, pyast.Lt: left < right,
                  pyast.LtE: left <= right, pyast.Gt: left > right,
                  pyast.GtE: left >= right}.get(type(op))
            if not ok:
                return 0
            left = right
        return 1
    if isinstance(node, pyast.IfExp):
        return _safe_eval(node.body) if _safe_eval(node.test) else _safe_eval(node.orelse)
    raise ValueError("not an integer expression")


def _ternaries(expr: str) -> str:
    """C's `a ? b : c` (loosest, right to left) as Python's `(b if a else c)`."""
    expr = _inside_parentheses(expr, _ternaries)
    depth, question = 0, -1
    for i, c in enumerate(expr):
        depth += c == "("
        depth -= c == ")"
        if c == "?" and depth == 0:
            question = i
            break
    if question < 0:
        return expr
    depth, nested = 0, 0
    for j in range(question + 1, len(expr)):
        c = expr[j]
        depth += c == "("
        depth -= c == ")"
        if depth == 0 and c == "?":
            nested += 1
        elif depth == 0 and c == ":":
            if nested == 0:
                cond, then, other = expr[:question], expr[question + 1:j], expr[j + 1:]
                return (f"(({_ternaries(then)}) if ({cond}) "
                        f"else ({_ternaries(other)}))")
            nested -= 1
    return expr


def _inside_parentheses(expr: str, convert) -> str:
    """`expr` with the text of each outermost (...) group passed through `convert`."""
    out, depth, start = [], 0, 0
    for i, c in enumerate(expr):
        if c == "(":
            if depth == 0:
                out.append(expr[start:i + 1])
                start = i + 1
            depth += 1
        elif c == ")" and depth > 0:
            depth -= 1
            if depth == 0:
                out.append(convert(expr[start:i]) + ")")
                start = i + 1
    out.append(expr[start:])
    return "".join(out)


def _join_continuations(lines: list[str]) -> list[str]:
    """A directive ending in `\\` continues on the next line; keep the line count."""
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        extra = 0
        while line.endswith("\\") and _DIRECTIVE.match(line) and i + extra + 1 < len(lines):
            extra += 1
            line = line[:-1] + " " + lines[i + extra]
        out.append(line)
        out.extend([""] * extra)
        i += extra + 1
    return out


def _ends_in_comment(line: str, in_comment: bool) -> bool:
    """Whether a /* comment is still open at the end of `line` (strings ignored)."""
    pos = 0
    while True:
        if in_comment:
            end = line.find("*/", pos)
            if end < 0:
                return True
            in_comment, pos = False, end + 2
        else:
            start = line.find("/*", pos)
            line_comment = line.find("//", pos)
            if start < 0 or (0 <= line_comment < start):
                return False
            in_comment, pos = True, start + 2
