"""C workloads for probe tests, each waiting for one byte on stdin before its work
(unless NOWAIT is set in its environment).

Every workload does an exact, argument-given amount of work so tests can
assert exact counts: `calls N [PAUSE_US]` calls work(i, 7), work_two(i) and
libc's getppid() N times (pausing between rounds); `usdt N` fires USDT probes (plain,
semaphore-guarded, with register/constant/memory arguments); `pages N`
touches N fresh pages; `syscalls N` makes N raw getppid system calls.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cbuild import build_c, require_header

WAIT = r"""
#include <stdlib.h>
#include <unistd.h>
volatile long sink;  /* results land here: the workload prints nothing */
/* NOWAIT=1 (for `pytrace -c`, which holds the child itself) skips the wait.
   Otherwise "r" on stdout says the program is loaded and waiting for a byte. */
static int wait_for_go(void) {
    char c;
    return getenv("NOWAIT") != 0 || (write(1, "r", 1) == 1 && read(0, &c, 1) == 1);
}
"""

CALLS = WAIT + r"""
__attribute__((noinline)) int work(int a, int b) { return a * 2 + b; }
__attribute__((noinline)) int work_two(int a) { return a + 1; }
int main(int argc, char **argv) {
    if (!wait_for_go()) return 1;
    int n = atoi(argv[1]), pause_us = argc > 2 ? atoi(argv[2]) : 0; long s = 0;
    for (int i = 0; i < n; i++) {
        s += work(i, 7) + work_two(i) + getppid();
        if (pause_us) usleep(pause_us);
    }
    sink = s;
    return 0;
}
"""

USDT_MAIN = WAIT + r"""
#include <sys/sdt.h>
long counter = 100;
extern long bumped;          /* changed in the other unit: read from memory here */
int guarded_site(int i);
int main(int argc, char **argv) {
    if (!wait_for_go()) return 1;
    int n = atoi(argv[1]); long guarded = 0;
    for (int i = 0; i < n; i++) {
        DTRACE_PROBE3(app, plain, i, (long)-i, 5);
        counter++;
        DTRACE_PROBE1(app, global, counter);
        guarded += guarded_site(i);
        DTRACE_PROBE1(app, memory, bumped);
    }
    sink = guarded;
    return 0;
}
"""

# The guarded probe lives in its own unit: _SDT_HAS_SEMAPHORES gives every
# probe of a unit a semaphore.
USDT_GUARDED = r"""
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
unsigned short app_guarded_semaphore __attribute__((unused)) __attribute__((section(".probes")));
long bumped = 1000;
int guarded_site(int i) {
    bumped += 3;
    if (app_guarded_semaphore) { DTRACE_PROBE1(app, guarded, i * 10); return 1; }
    return 0;
}
"""

PAGES = WAIT + r"""
#include <sys/mman.h>
int main(int argc, char **argv) {
    if (!wait_for_go()) return 1;
    long n = atol(argv[1]), page = sysconf(_SC_PAGESIZE);
    char *p = mmap(0, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 2;
    for (long i = 0; i < n; i++) p[i * page] = 1;   /* first touch: one fault each */
    return 0;
}
"""

SYSCALLS = WAIT + r"""
#include <sys/syscall.h>
int main(int argc, char **argv) {
    if (!wait_for_go()) return 1;
    int n = atoi(argv[1]);
    for (int i = 0; i < n; i++) syscall(SYS_getppid);
    return 0;
}
"""

WATCHED = WAIT + r"""
volatile long watched;
int main(int argc, char **argv) {
    if (!wait_for_go()) return 1;
    int n = atoi(argv[1]);
    for (int i = 0; i < n; i++) { watched = i; usleep(1000); }
    return 0;
}
"""


def calls(tmp: Path) -> str:
    return str(build_c(CALLS, tmp, "calls", flags=("-O1", "-g")))


def usdt(tmp: Path, flags=("-O2", "-g"), name: str = "usdt") -> str:
    require_header("sys/sdt.h")
    return str(build_c(USDT_MAIN, tmp, name, flags=flags,
                       extra_sources={f"{name}_guarded.c": USDT_GUARDED}))


def pages(tmp: Path) -> str:
    return str(build_c(PAGES, tmp, "pages", flags=("-O1",)))


def syscalls(tmp: Path) -> str:
    return str(build_c(SYSCALLS, tmp, "syscalls", flags=("-O1",)))


def watched(tmp: Path) -> str:
    return str(build_c(WATCHED, tmp, "watched", flags=("-O1", "-no-pie")))

CPP = r"""
#include <stdlib.h>
#include <unistd.h>
volatile long sink;
static int wait_for_go(void) {
    char c;
    return getenv("NOWAIT") != 0 || (write(1, "r", 1) == 1 && read(0, &c, 1) == 1);
}
namespace ns {
struct Widget {
    int v;
    explicit Widget(int x) : v(x) {}
    int poke(int a) const;
};
__attribute__((noinline)) int Widget::poke(int a) const { sink += a; return v + a; }
}
__attribute__((noinline)) int foo(int a) { sink += a; return a + 1; }
__attribute__((noinline)) int foo() { sink += 1; return 3; }
int main(int argc, char **argv) {
    if (!wait_for_go()) return 1;
    int n = atoi(argv[1]);
    ns::Widget w(n);
    for (int i = 0; i < n; i++) sink += w.poke(i) + foo(i) + foo() + foo();
    return 0;
}
"""


def cpp(tmp: Path) -> str:
    return str(build_c(CPP, tmp, "cpp", flags=("-x", "c++", "-O1")))
