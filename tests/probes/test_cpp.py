"""C++ uprobes by demangled name (as bpftrace matches them), and the demangler itself."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from pytrace.probes.demangle import demangle, without_parameters
from tests.probes import workloads
from tests.probes.harness import run_with_workload

N = 4

# Itanium ABI manglings and their demangled spelling (as c++filt writes it).
CASES = [
    ("_Z3fooi", "foo(int)"),
    ("_Z3foov", "foo()"),
    ("_ZNK2ns6Widget4pokeEi", "ns::Widget::poke(int) const"),
    ("_ZN2ns6WidgetC2Ei", "ns::Widget::Widget(int)"),
    ("_ZN2ns6WidgetD1Ev", "ns::Widget::~Widget()"),
    ("_Z5twiceIlET_S0_", "long twice<long>(long)"),
    ("_Z1fPKcRS_", "f(char const*, char const&)"),
    ("_Z1fPKcRS0_", "f(char const*, char const*&)"),
    ("_ZNSt6vectorIiSaIiEE9push_backERKi",
     "std::vector<int, std::allocator<int> >::push_back(int const&)"),
    ("_ZN2nsplERKNS_6WidgetES2_", "ns::operator+(ns::Widget const&, ns::Widget const&)"),
    ("_Z3barIJidEEvDpT_", None),   # parameter packs in parameters: not supported -> None
    ("main", None),
]


@pytest.mark.parametrize("mangled, expected", CASES)
def test_demangle(mangled, expected):
    assert demangle(mangled) == expected


def test_without_parameters():
    assert without_parameters("ns::Widget::poke(int) const") == "ns::Widget::poke"
    assert without_parameters("f(void (*)(int))") == "f"


def test_demangle_agrees_with_cxxfilt_on_libstdcxx():
    cxxfilt = shutil.which("c++filt")
    lib = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
    if cxxfilt is None or shutil.which("nm") is None or not shutil.os.path.exists(lib):
        pytest.skip("needs c++filt, nm and libstdc++")
    nm = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True,
                        text=True).stdout
    names = sorted({line.split()[-1].split("@")[0] for line in nm.splitlines()
                    if line.split()[-1].startswith("_Z")})[:3000]
    expected = subprocess.run([cxxfilt], input="\n".join(names), capture_output=True,
                              text=True).stdout.splitlines()
    got = {n: demangle(n) for n in names}
    wrong = [(n, e, got[n]) for n, e in zip(names, expected) if got[n] not in (None, e)]
    assert wrong == []
    assert sum(v is not None for v in got.values()) > 0.9 * len(names)


@pytest.mark.kernel
def test_uprobe_by_demangled_name(tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("no C++ compiler")
    prog = workloads.cpp(tmp_path)
    out = run_with_workload(
        f"uprobe:{prog}:foo {{ @[probe] = count(); }} "
        f'uprobe:{prog}:"ns::Widget::poke(int) const" {{ @poke = sum(arg1); }} '
        f"uprobe:{prog}:ns::* {{ @ns = count(); }}", [prog, str(N)])
    head, maps = out.split("\n\n\n")
    assert head == "Attaching 4 probes..."
    assert sorted(maps.splitlines()) == sorted([
        f"@[uprobe:{prog}:foo()]: {2 * N}", f"@[uprobe:{prog}:foo(int)]: {N}",
        f"@poke: {sum(range(N))}", f"@ns: {N}"])
