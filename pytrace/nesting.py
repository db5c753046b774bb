"""Room for deeply nested programs, and the limit past which they are refused.

A 3000-term sum or `&&` chain, or 3000 nested `?:`, is a 3000-deep AST, and the
type pass, codegen and `-d ast` walk it recursively, a few Python frames per
level. bpftrace takes such programs (and crashes somewhere past 10000 levels),
so pytrace compiles them in a worker thread with a large stack and a raised
recursion limit, and refuses, with a located error, a program nested deeper
than MAX_NESTING before any recursive stage sees it.
"""

from __future__ import annotations

import sys
import threading

from pytrace.diagnostics import PytraceError, Span

# Deeper than this is refused (a nested `if` is two levels: the if and its block).
# bpftrace 0.17 takes 3000 and segfaults at 20000.
MAX_NESTING = 10000
# Python frames a recursive stage may use per level of nesting, with margin
# (codegen uses 3 for a binary operator, the type pass a few more).
_FRAMES_PER_LEVEL = 40
# Python 3.11 keeps Python-to-Python calls off the C stack, but calls through C
# (comparisons, repr, LLVM) do not: 256 MiB of address space, touched only as used.
_STACK_BYTES = 256 << 20


def check_nesting(program, text_length: int) -> None:
    """Refuse a program nested deeper than MAX_NESTING, at its too-deep node.

    Every level of nesting takes at least one character, so a program shorter
    than the limit needs no walk at all (the common case costs nothing);
    `text_length` -1 (macros expanded) always walks.
    """
    if 0 <= text_length <= MAX_NESTING:
        return
    from pytrace.ast import children
    stack = [(program, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise PytraceError(f"program nested too deeply: more than {MAX_NESTING} levels "
                               "of expressions and blocks", _start_of(node.span))
        stack.extend((child, depth + 1) for child in children(node))


def _start_of(span: Span | None) -> Span | None:
    # The too-deep node spans most of the program: point at where it starts.
    if span is None:
        return None
    return Span(span.line, span.col, span.line, span.col + 1)


# Text shorter than this cannot nest deep enough to need the thread (a level
# takes at least a character, and at most ~5 frames of the default 1000), so
# the common one-liner does not pay the thread's ~0.2 ms.
_SHALLOW_TEXT = 100


def call_with_deep_stack(fn, text: str):
    """fn() in a thread with room for MAX_NESTING levels (for the program
    `text`); its result or its exception, as if called here."""
    if len(text) < _SHALLOW_TEXT and "define" not in text:  # a macro may expand deep
        return fn()
    outcome: list = []

    def worker():
        try:
            outcome.append((True, fn()))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller below
            outcome.append((False, e))

    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 1000 + _FRAMES_PER_LEVEL * MAX_NESTING))
    old_size = threading.stack_size(_STACK_BYTES)
    try:
        thread = threading.Thread(target=worker, name="pytrace-compile", daemon=True)
        thread.start()
    finally:
        threading.stack_size(old_size)
    try:
        thread.join()
    finally:
        sys.setrecursionlimit(old_limit)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
