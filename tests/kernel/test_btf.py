"""BTF facts a user relies on: struct offsets, prototypes, enums and type names,
read from this machine's /sys/kernel/btf/vmlinux and cross-checked against
bpftool's own decoding of the same blob when bpftool is installed."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess

import pytest

from pytrace.kernel import btf
from pytrace.target.files import LocalFiles

TARGET = LocalFiles()

pytestmark = pytest.mark.skipif(not os.path.exists(btf.VMLINUX_PATH),
                                reason="kernel has no BTF")


@pytest.fixture(scope="module")
def vmlinux(tmp_path_factory):
    # A private cache dir, so the test exercises the scan and not a stale cache.
    old = os.environ.get("PYTRACE_CACHE_DIR")
    os.environ["PYTRACE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    try:
        yield btf.load_vmlinux(TARGET)
    finally:
        if old is None:
            os.environ.pop("PYTRACE_CACHE_DIR")
        else:
            os.environ["PYTRACE_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def bpftool_types():
    """bpftool's JSON decoding of vmlinux BTF, by type id (None if no bpftool)."""
    tool = shutil.which("bpftool")
    if tool is None:
        return None
    out = subprocess.run([tool, "-j", "btf", "dump", "file", btf.VMLINUX_PATH],
                         capture_output=True, text=True, check=True).stdout
    return {t["id"]: t for t in json.loads(out)["types"]}


def bpftool_find(types, name, kind):
    return next(t for t in types.values() if t.get("name") == name and t["kind"] == kind)


def test_task_struct_pid_offset_matches_bpftool(vmlinux, bpftool_types):
    task = vmlinux.find_struct("task_struct")
    pid = vmlinux.find_member(task.id, "pid")
    assert vmlinux.type_name(pid.type_id) == "pid_t"
    assert vmlinux.size_of(pid.type_id) == 4
    assert vmlinux.resolve(pid.type_id).is_signed
    # Independent of bpftool: pid lies inside the struct, after the fields
    # every kernel puts first, and tgid (declared next) follows it.
    tgid = vmlinux.find_member(task.id, "tgid")
    assert 0 < pid.offset < task.size
    assert tgid.offset == pid.offset + 4
    if bpftool_types is None:
        pytest.skip("bpftool not installed: offsets not cross-checked")
    ref = bpftool_types[task.id]
    assert ref["name"] == "task_struct" and ref["size"] == task.size
    ref_pid = next(m for m in ref["members"] if m["name"] == "pid")
    assert ref_pid["bits_offset"] == pid.bit_offset
    assert ref_pid["type_id"] == pid.type_id


def test_vfs_read_prototype(vmlinux, bpftool_types):
    sig = vmlinux.func_signature("vfs_read")
    assert [p.name for p in sig.params] == ["file", "buf", "count", "pos"]
    assert [vmlinux.type_name(p.type_id) for p in sig.params] == \
        ["struct file *", "char *", "size_t", "loff_t *"]
    assert vmlinux.type_name(sig.ret_type_id) == "ssize_t"
    assert vmlinux.signature_text(sig) == \
        "ssize_t vfs_read(struct file *file, char *buf, size_t count, loff_t *pos)"
    # fentry's attach_btf_id is the FUNC record's id.
    assert vmlinux.type(sig.func_id).kind == btf.FUNC
    if bpftool_types is not None:
        assert bpftool_find(bpftool_types, "vfs_read", "FUNC")["id"] == sig.func_id


def test_tracepoint_arguments_from_btf_trace_typedef(vmlinux):
    sig = vmlinux.tracepoint_signature("sched_switch")
    names = [p.name for p in sig.params]
    assert names[0] == "__data" and vmlinux.type_name(sig.params[0].type_id) == "void *"
    assert "prev" in names and "next" in names
    prev = sig.params[names.index("prev")]
    assert vmlinux.type_name(prev.type_id) == "struct task_struct *"
    assert vmlinux.type(sig.func_id).name == "btf_trace_sched_switch"
    assert vmlinux.tracepoint_signature("no_such_tracepoint_xyz") is None


def test_bitfield_member(vmlinux, bpftool_types):
    task = vmlinux.find_struct("task_struct")
    bitfields = [m for m in task.members if m.is_bitfield]
    assert bitfields, "task_struct has bitfields (sched_reset_on_fork...)"
    m = bitfields[0]
    assert 0 < m.bitfield_size < 32
    assert m.offset == m.bit_offset // 8
    if bpftool_types is not None:
        ref = next(r for r in bpftool_types[task.id]["members"] if r["name"] == m.name)
        assert ref["bitfield_size"] == m.bitfield_size
        assert ref["bits_offset"] == m.bit_offset


def test_enum_values(vmlinux):
    # TASK_COMM_LEN is an enumerator in modern kernels; task_struct.comm is
    # declared with it, so the two must agree.
    enum, comm_len = vmlinux.find_enum_value("TASK_COMM_LEN")
    assert enum.kind == btf.ENUM
    comm = vmlinux.find_member(vmlinux.find_struct("task_struct").id, "comm")
    assert vmlinux.resolve(comm.type_id).nelems == comm_len
    assert vmlinux.type_name(comm.type_id) == f"char[{comm_len}]"
    assert vmlinux.type_name(comm.type_id, "comm") == f"char comm[{comm_len}]"
    map_types = vmlinux.enum_values(vmlinux.find("bpf_map_type", btf.ENUM).id)
    assert map_types["BPF_MAP_TYPE_HASH"] == 1  # uapi ABI
    assert vmlinux.find_enum_value("NO_SUCH_ENUMERATOR_XYZ") is None


def test_type_names_and_sizes(vmlinux):
    task = vmlinux.find_struct("task_struct")
    assert vmlinux.size_of(task.id) == task.size
    ptr = vmlinux.find_member(task.id, "real_parent")
    assert vmlinux.type_name(ptr.type_id) == "struct task_struct *"
    assert vmlinux.size_of(ptr.type_id) == 8
    sig = vmlinux.func_signature("do_sys_open")
    assert "const char *" in [vmlinux.type_name(p.type_id) for p in sig.params]
    assert vmlinux.type_name(vmlinux.find("unsigned int", btf.INT).id) == "unsigned int"
    # A typedef chain resolves to its layout type.
    size_t = vmlinux.find("size_t", btf.TYPEDEF)
    assert vmlinux.resolve(size_t.id).kind == btf.INT and vmlinux.size_of(size_t.id) == 8


def test_find_by_kind_and_forward_declarations(vmlinux):
    assert vmlinux.find("task_struct", btf.FUNC) is None
    assert vmlinux.find("task_struct", "struct").kind == btf.STRUCT
    assert vmlinux.find("no_such_type_xyz") is None
    # A FWD and a full definition can share a name; find() prefers the definition.
    for t in vmlinux.types():
        if t.kind == btf.FWD and t.name and vmlinux.find(t.name, btf.STRUCT):
            assert vmlinux.find(t.name).kind != btf.FWD
            break


def test_every_record_matches_bpftool(vmlinux, bpftool_types):
    """Decode all ~100k records and compare kind, name and layout with bpftool."""
    if bpftool_types is None:
        pytest.skip("bpftool not installed")
    assert vmlinux.nr_types - 1 == len(bpftool_types)
    kinds_seen = set()
    for t in vmlinux.types():
        ref = bpftool_types[t.id]
        kinds_seen.add(t.kind)
        assert t.kind_name == ref["kind"], t.id
        assert (t.name or "(anon)") == ref["name"], t.id
        if t.kind in (btf.STRUCT, btf.UNION):
            assert t.size == ref["size"]
            assert [(m.name or "(anon)", m.type_id, m.bit_offset, m.bitfield_size)
                    for m in t.members] == \
                [(m["name"], m["type_id"], m["bits_offset"], m.get("bitfield_size", 0))
                 for m in ref["members"]], t.id
        elif t.kind in (btf.ENUM, btf.ENUM64):
            # bpftool sign-extends some unsigned 32-bit enumerators before
            # printing them as u64; compare within the enum's own width.
            mask = (1 << (8 * t.size)) - 1
            assert [(v.name, v.value & mask) for v in t.values] == \
                [(v["name"], v["val"] & mask) for v in ref["values"]], t.id
        elif t.kind == btf.FUNC_PROTO:
            params = [(p.name or "(anon)", p.type_id) for p in t.params]
            if t.variadic:
                params.append(("(anon)", 0))
            assert params == [(p["name"], p["type_id"]) for p in ref["params"]], t.id
            assert t.ref == ref["ret_type_id"]
        elif t.kind == btf.ARRAY:
            assert (t.elem_type, t.index_type, t.nelems) == \
                (ref["type_id"], ref["index_type_id"], ref["nr_elems"])
        elif t.kind == btf.INT:
            assert (t.size, t.bits, t.int_offset) == (ref["size"], ref["nr_bits"], ref["bits_offset"])
            assert t.is_signed == (ref["encoding"] == "SIGNED")
        elif t.kind == btf.DATASEC:
            assert [(v.type_id, v.offset, v.size) for v in t.sec_vars] == \
                [(v["type_id"], v["offset"], v["size"]) for v in ref["vars"]]
        elif t.kind == btf.DECL_TAG:
            assert (t.ref, t.component_idx) == (ref["type_id"], ref["component_idx"])
        elif "type_id" in ref:
            assert t.ref == ref["type_id"], t.id
    # This kernel's BTF exercises most kinds; the parser must have met them.
    assert {btf.INT, btf.PTR, btf.ARRAY, btf.STRUCT, btf.UNION, btf.ENUM, btf.FWD,
            btf.TYPEDEF, btf.CONST, btf.FUNC, btf.FUNC_PROTO} <= kinds_seen


def test_index_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRACE_CACHE_DIR", str(tmp_path))
    blob = TARGET.read_file(btf.VMLINUX_PATH)
    first = btf.BTF(blob)
    cached = list((tmp_path / "btf").iterdir())
    assert len(cached) == 1
    second = btf.BTF(blob)  # served from the cache
    assert second.find_struct("task_struct").id == first.find_struct("task_struct").id
    assert second.nr_types == first.nr_types
    # A damaged cache file is ignored, not trusted.
    cached[0].write_bytes(b"PTBTFIX1garbage")
    third = btf.BTF(blob)
    assert third.find_struct("task_struct").id == first.find_struct("task_struct").id


# ---- split (module) BTF ------------------------------------------------------------------

def _split_blob(base: btf.BTF, int_id: int, task_id: int) -> bytes:
    """A tiny module blob: struct pytrace_mod { int a; struct task_struct *t; unsigned x:3; }"""
    strings = b"\0pytrace_mod\0a\0t\0x\0"
    so = base._str_total  # split string offsets continue after the base's
    name = lambda s: so + strings.index(b"\0" + s + b"\0") + 1  # noqa: E731
    ptr_id = base.nr_types          # first id of the split blob
    struct_id = base.nr_types + 1
    types = struct.pack("<III", 0, btf.PTR << 24, task_id)
    types += struct.pack("<III", name(b"pytrace_mod"), (1 << 31) | (btf.STRUCT << 24) | 3, 16)
    types += struct.pack("<III", name(b"a"), int_id, 0)
    types += struct.pack("<III", name(b"t"), ptr_id, 64)
    types += struct.pack("<III", name(b"x"), int_id, (3 << 24) | 128)
    header = struct.pack("<HBBIIIII", btf.BTF_MAGIC, 1, 0, 24, 0, len(types),
                         len(types), len(strings))
    assert struct_id == base.nr_types + 1
    return header + types + strings


def test_split_btf_on_vmlinux(vmlinux):
    int_id = vmlinux.find("int", btf.INT).id
    task_id = vmlinux.find_struct("task_struct").id
    module = btf.BTF(_split_blob(vmlinux, int_id, task_id), base=vmlinux, name="testmod")
    s = module.find_struct("pytrace_mod")
    assert s.id == vmlinux.nr_types + 1
    assert [(m.name, m.offset) for m in s.members] == [("a", 0), ("t", 8), ("x", 16)]
    assert module.type_name(module.find_member(s.id, "t").type_id) == "struct task_struct *"
    x = module.find_member(s.id, "x")
    assert x.is_bitfield and x.bitfield_size == 3
    # Base types stay reachable through the module.
    assert module.find_struct("task_struct").id == task_id


def test_real_module_btf_if_any(vmlinux):
    modules = btf.modules_with_btf(TARGET)
    if not modules:
        pytest.skip("no loaded module carries BTF on this machine")
    mod = btf.load_module(TARGET, modules[0], vmlinux)
    own = list(mod.types())
    assert own and own[0].id == vmlinux.nr_types
    for t in own[:200]:
        mod.type_name(t.id)  # every referenced id resolves, base or module


def test_not_btf_is_a_clear_error():
    with pytest.raises(btf.BTFError, match="bad magic"):
        btf.BTF(b"\0" * 64, name="junk")
