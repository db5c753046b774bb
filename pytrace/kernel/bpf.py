"""bpf(2) through ctypes: maps, programs and object info.

Owns the `union bpf_attr` layouts pytrace needs (packed by hand at their uapi
offsets, so no generated headers) and the policies around them: per-CPU value
sizes, batch map reads with a key-by-key fallback, and program loading that
keeps the verifier log. Links and attach live in pytrace.kernel.perf.
"""

from __future__ import annotations

import ctypes
import errno
import operator
import os
import struct

from pytrace.kernel.errors import (CAP_BPF, CAP_PERFMON, ENOTSUPP, KernelError, MapError,
                                   ProgLoadError,
                                   ProgPermissionError, errno_text, permission_error)

SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine, 321)

# Commands (enum bpf_cmd).
MAP_CREATE, MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, MAP_DELETE_ELEM, MAP_GET_NEXT_KEY = 0, 1, 2, 3, 4
PROG_LOAD = 5
PROG_TEST_RUN = 10
OBJ_GET_INFO_BY_FD = 15
RAW_TRACEPOINT_OPEN = 17
BTF_LOAD = 18
MAP_LOOKUP_BATCH, MAP_LOOKUP_AND_DELETE_BATCH, MAP_DELETE_BATCH = 24, 25, 27
LINK_CREATE = 28

# Map types (enum bpf_map_type).
MAP_HASH, MAP_ARRAY, MAP_PERF_EVENT_ARRAY = 1, 2, 4
MAP_PERCPU_HASH, MAP_PERCPU_ARRAY, MAP_STACK_TRACE = 5, 6, 7
MAP_LRU_HASH, MAP_LRU_PERCPU_HASH = 9, 10
MAP_RINGBUF = 27
PERCPU_MAPS = frozenset({MAP_PERCPU_HASH, MAP_PERCPU_ARRAY, MAP_LRU_PERCPU_HASH})
ARRAY_MAPS = frozenset({MAP_ARRAY, MAP_PERCPU_ARRAY})

# Program types (enum bpf_prog_type) and attach types (enum bpf_attach_type).
PROG_KPROBE, PROG_TRACEPOINT, PROG_PERF_EVENT = 2, 5, 7
PROG_RAW_TRACEPOINT, PROG_TRACING = 17, 26
ATTACH_TRACE_RAW_TP, ATTACH_TRACE_FENTRY, ATTACH_TRACE_FEXIT = 23, 24, 25
ATTACH_PERF_EVENT = 41
ATTACH_TRACE_UPROBE_MULTI = 48
UPROBE_MULTI_RETURN = 1   # BPF_F_UPROBE_MULTI_RETURN: uretprobes

# Map update flags.
BPF_ANY, BPF_NOEXIST, BPF_EXIST = 0, 1, 2

ATTR_SIZE = 144   # covers every field we set; the kernel accepts zeroed tails
PROG_INFO_SIZE = 232
MAP_INFO_SIZE = 40

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class BpfError(OSError):
    """Raw bpf(2) failure; the public functions turn it into a KernelError."""


def sys_bpf(cmd: int, attr) -> int:
    """Call bpf(2) with a ctypes buffer holding a bpf_attr; OSError on failure."""
    ret = _libc.syscall(SYS_BPF, ctypes.c_int(cmd), ctypes.byref(attr),
                        ctypes.c_uint(ctypes.sizeof(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise BpfError(err, os.strerror(err))
    return ret


def _attr(*fields: tuple[int, str, int]):
    """A zeroed bpf_attr with (offset, struct format, value) fields packed in."""
    attr = ctypes.create_string_buffer(ATTR_SIZE)
    for offset, fmt, value in fields:
        struct.pack_into(fmt, attr, offset, value)
    return attr


def _addr(buf) -> int:
    return ctypes.addressof(buf) if buf is not None else 0


def _buffer(data: bytes | None, size: int):
    buf = ctypes.create_string_buffer(size)
    if data:
        ctypes.memmove(buf, data, min(len(data), size))
    return buf


def percpu_value_size(value_size: int, ncpus: int) -> int:
    """User space sees one 8-byte aligned slot per possible CPU."""
    return ((value_size + 7) & ~7) * ncpus


def _map_error(action: str, e: OSError) -> Exception:
    if e.errno in (errno.EPERM, errno.EACCES):
        return permission_error(action, (CAP_BPF,), e.errno)
    return MapError(f"{action}: {errno_text(e.errno)}", e.errno)


# ---- maps ---------------------------------------------------------------------------

def map_create(map_type: int, key_size: int, value_size: int, max_entries: int,
               flags: int = 0, name: str = "") -> int:
    attr = _attr((0, "I", map_type), (4, "I", key_size), (8, "I", value_size),
                 (12, "I", max_entries), (16, "I", flags))
    # Map names: 15 chars of [A-Za-z0-9_.]; anything else makes the kernel say EINVAL.
    clean = "".join(c if c.isalnum() or c in "_." else "_" for c in name)[:15]
    struct.pack_into("16s", attr, 28, clean.encode())
    try:
        return sys_bpf(MAP_CREATE, attr)
    except OSError as e:
        raise _map_error(f"cannot create map {name or ''}".rstrip(), e) from None


def _elem_attr(fd: int, key, value=None, flags: int = 0):
    return _attr((0, "I", fd), (8, "Q", _addr(key)), (16, "Q", _addr(value)), (24, "Q", flags))


def _elem_op(cmd: int, action: str, fd: int, key, value=None, flags: int = 0) -> bool:
    """One element command; False when the kernel answers ENOENT (no such key)."""
    try:
        sys_bpf(cmd, _elem_attr(fd, key, value, flags))
    except OSError as e:
        if e.errno == errno.ENOENT:
            return False
        raise _map_error(action, e) from None
    return True


def _key_buffer(key: bytes):
    return _buffer(key, max(len(key), 1))


def map_lookup(fd: int, key: bytes, value_size: int) -> bytes | None:
    """Value bytes (value_size is the full user-space size), None if absent."""
    v = ctypes.create_string_buffer(value_size)
    found = _elem_op(MAP_LOOKUP_ELEM, "cannot read map element", fd, _key_buffer(key), v)
    return v.raw if found else None


def map_update(fd: int, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
    v = _buffer(value, max(len(value), 1))
    if not _elem_op(MAP_UPDATE_ELEM, "cannot update map element", fd, _key_buffer(key), v, flags):
        # Only BPF_EXIST on an absent key gets here.
        raise MapError(f"cannot update map element: {errno_text(errno.ENOENT)}", errno.ENOENT)


def map_delete(fd: int, key: bytes) -> bool:
    return _elem_op(MAP_DELETE_ELEM, "cannot delete map element", fd, _key_buffer(key))


def map_get_next_key(fd: int, key: bytes | None, key_size: int) -> bytes | None:
    """The key after `key` (the first key when None); None at the end."""
    k = _buffer(key, key_size) if key is not None else None
    nxt = ctypes.create_string_buffer(key_size)
    found = _elem_op(MAP_GET_NEXT_KEY, "cannot iterate map keys", fd, k, nxt)
    return nxt.raw if found else None


def map_keys(fd: int, key_size: int) -> list[bytes]:
    keys: list[bytes] = []
    key = map_get_next_key(fd, None, key_size)
    while key is not None:
        keys.append(key)
        key = map_get_next_key(fd, key, key_size)
    return keys


def _batch_unsupported(err: int) -> bool:
    return err in (errno.EINVAL, ENOTSUPP, errno.EOPNOTSUPP, errno.ENOSYS)


def map_lookup_batch(fd: int, key_size: int, value_size: int, max_entries: int,
                     delete: bool = False, force_fallback: bool = False
                     ) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of the map; value_size is the full user-space size.

    Uses BPF_MAP_LOOKUP[_AND_DELETE]_BATCH; falls back to get_next_key walks
    when the kernel or the map type lacks it (EINVAL/ENOTSUPP).
    """
    if not force_fallback:
        try:
            return _lookup_batch(fd, key_size, value_size, max_entries, delete)
        except OSError as e:
            if not _batch_unsupported(e.errno):
                raise _map_error("cannot read map", e) from None
    return _lookup_key_by_key(fd, key_size, value_size, delete)


def _lookup_batch(fd, key_size, value_size, max_entries, delete):
    cmd = MAP_LOOKUP_AND_DELETE_BATCH if delete else MAP_LOOKUP_BATCH
    # Hash maps use a u32 bucket cursor, arrays a key: size the token for both.
    token_size = max(key_size, 8)
    in_token = ctypes.create_string_buffer(token_size)
    out_token = ctypes.create_string_buffer(token_size)
    chunk = max(1, min(max_entries, 1 << 18))
    keys = ctypes.create_string_buffer(key_size * chunk)
    values = ctypes.create_string_buffer(value_size * chunk)
    out: list[tuple[bytes, bytes]] = []
    first = True
    while True:
        attr = _attr((0, "Q", 0 if first else _addr(in_token)), (8, "Q", _addr(out_token)),
                     (16, "Q", _addr(keys)), (24, "Q", _addr(values)),
                     (32, "I", chunk), (36, "I", fd))
        done = False
        try:
            sys_bpf(cmd, attr)
        except OSError as e:
            if e.errno == errno.ENOSPC and chunk < (1 << 24):
                # One hash bucket holds more entries than the buffers: grow them.
                chunk *= 2
                keys = ctypes.create_string_buffer(key_size * chunk)
                values = ctypes.create_string_buffer(value_size * chunk)
                continue
            if e.errno != errno.ENOENT:
                raise
            done = True   # ENOENT marks the end; `count` still says what came back
        count = struct.unpack_from("I", attr, 32)[0]
        out.extend(zip(_split(keys, key_size, count), _split(values, value_size, count)))
        if done:
            return out
        ctypes.memmove(in_token, out_token, token_size)
        first = False


_first = operator.itemgetter(0)


def _split(buf, size: int, count: int) -> list[bytes]:
    """count records of `size` bytes from a ctypes buffer, split at C speed."""
    if not count:
        return []
    raw = ctypes.string_at(buf, size * count)
    return list(map(_first, struct.iter_unpack(f"{size}s", raw)))


def _lookup_key_by_key(fd, key_size, value_size, delete):
    # Collect keys first: deleting while walking restarts a hash walk from the top.
    out = []
    for key in map_keys(fd, key_size):
        value = map_lookup(fd, key, value_size)
        if value is not None:
            out.append((key, value))
    if delete:
        for key, value in out:
            _delete_or_zero(fd, key, len(value))
    return out


def _delete_or_zero(fd: int, key: bytes, value_size: int) -> None:
    # Array slots cannot be deleted (EINVAL); clearing them means zeroing.
    try:
        map_delete(fd, key)
    except MapError as e:
        if e.errno != errno.EINVAL:
            raise
        map_update(fd, key, bytes(value_size))


def map_delete_batch(fd: int, keys: list[bytes], key_size: int,
                     force_fallback: bool = False) -> int:
    """Delete the keys; returns how many existed. Missing keys are skipped."""
    if not keys:
        return 0
    if not force_fallback:
        try:
            return _delete_batch(fd, keys, key_size)
        except OSError as e:
            if not _batch_unsupported(e.errno):
                raise _map_error("cannot delete map elements", e) from None
    return sum(map_delete(fd, k) for k in keys)


def _delete_batch(fd, keys, key_size):
    deleted = 0
    start = 0
    while start < len(keys):
        pending = keys[start:]
        buf = _buffer(b"".join(k.ljust(key_size, b"\0")[:key_size] for k in pending),
                      key_size * len(pending))
        attr = _attr((16, "Q", _addr(buf)), (32, "I", len(pending)), (36, "I", fd))
        try:
            sys_bpf(MAP_DELETE_BATCH, attr)
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise
            # The kernel stops at the first missing key; skip it and go on.
            done = struct.unpack_from("I", attr, 32)[0]
            deleted += done
            start += done + 1
            continue
        return deleted + struct.unpack_from("I", attr, 32)[0]
    return deleted


def map_info(fd: int) -> dict:
    """Type, id, key/value sizes, max_entries and flags of any map fd."""
    info = ctypes.create_string_buffer(MAP_INFO_SIZE)
    attr = _attr((0, "I", fd), (4, "I", MAP_INFO_SIZE), (8, "Q", _addr(info)))
    try:
        sys_bpf(OBJ_GET_INFO_BY_FD, attr)
    except OSError as e:
        raise _map_error("cannot query map", e) from None
    t, i, k, v, n, fl = struct.unpack_from("6I", info, 0)
    return {"type": t, "id": i, "key_size": k, "value_size": v, "max_entries": n, "flags": fl}


# ---- programs -------------------------------------------------------------------------

LOG_START = 1 << 16
LOG_MAX = 1 << 26   # above this the kernel says EINVAL (log_size limit)


def prog_load(prog_type: int, insns: bytes, license: str = "GPL", *, name: str = "",
              expected_attach_type: int = 0, attach_btf_id: int = 0,
              attach_btf_obj_fd: int = 0, kern_version: int = 0,
              log_level: int = 0, prog_btf_fd: int = 0,
              func_info: bytes = b"") -> tuple[int, str]:
    """Load a program; returns (fd, verifier log).

    Without log_level the first try has no log buffer (fast path); on failure it
    retries with log_level 1 so the rejection carries the verifier's words, and
    grows the buffer while the kernel says ENOSPC (log truncated).
    """
    if len(insns) % 8:
        raise ProgLoadError(f"program {name}: instructions must be a multiple of 8 bytes",
                            errno.EINVAL)
    lic = ctypes.create_string_buffer(license.encode())
    code = _buffer(insns, len(insns))
    # func_info: 8-byte bpf_func_info records (insn_off, BTF FUNC id), needed by
    # programs that pass callbacks to helpers.
    funcs = _buffer(func_info, len(func_info)) if func_info else None
    size = LOG_START if log_level else 0
    while True:
        log = ctypes.create_string_buffer(size) if size else None
        attr = _attr((0, "I", prog_type), (4, "I", len(insns) // 8), (8, "Q", _addr(code)),
                     (16, "Q", _addr(lic)), (24, "I", log_level if size else 0),
                     (28, "I", size), (32, "Q", _addr(log)), (40, "I", kern_version),
                     (68, "I", expected_attach_type), (108, "I", attach_btf_id),
                     (112, "I", attach_btf_obj_fd), (72, "I", prog_btf_fd),
                     (76, "I", 8 if func_info else 0), (80, "Q", _addr(funcs)),
                     (88, "I", len(func_info) // 8))
        struct.pack_into("16s", attr, 48, _prog_name(name))
        try:
            fd = sys_bpf(PROG_LOAD, attr)
            return fd, _log_text(log)
        except OSError as e:
            err = e.errno
        if err == errno.ENOSPC and size and size < LOG_MAX:
            size *= 4
            continue
        # EACCES is the verifier's usual "rejected" code, so only EPERM skips the log.
        if not size and err not in (errno.EPERM, errno.E2BIG):
            size, log_level = LOG_START, log_level or 1
            continue
        raise _prog_error(prog_type, name, err, _log_text(log)) from None


def btf_load(blob: bytes) -> int:
    """Load a BTF blob (BPF_BTF_LOAD); returns its fd. On rejection the error
    carries the kernel's BTF log."""
    data = _buffer(blob, len(blob))
    try:
        return sys_bpf(BTF_LOAD, _attr((0, "Q", _addr(data)), (16, "I", len(blob))))
    except OSError as first:
        log = ctypes.create_string_buffer(LOG_START)
        try:
            return sys_bpf(BTF_LOAD, _attr((0, "Q", _addr(data)), (8, "Q", _addr(log)),
                                           (16, "I", len(blob)), (20, "I", LOG_START),
                                           (24, "I", 1)))
        except OSError:
            raise KernelError(f"cannot load BTF: {errno_text(first.errno)}: "
                              f"{_log_text(log).strip()}", first.errno) from None


def _prog_name(name: str) -> bytes:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:15].encode()


def _log_text(log) -> str:
    if log is None:
        return ""
    return log.value.decode(errors="replace")


def _prog_error(prog_type: int, name: str, err: int, log: str) -> Exception:
    what = f"cannot load program {name}".rstrip()
    if err == errno.EPERM:
        perm = permission_error(what, (CAP_BPF, CAP_PERFMON), err,
                                tracing=prog_type == PROG_TRACING)
        return ProgPermissionError(perm.message, err, log)
    if log:
        # The last lines are statistics; the reason is the line before them.
        last = [line for line in log.strip().splitlines()
                if line.strip() and not line.startswith(("processed ", "verification time"))]
        reason = last[-1] if last else errno_text(err)
        return ProgLoadError(f"{what}: the BPF verifier rejected it: {reason}", err, log)
    return ProgLoadError(f"{what}: {errno_text(err)}", err, log)


def prog_info(fd: int) -> dict:
    """Type, id, name, tag and instruction counts (xlated = as rewritten by the verifier)."""
    info = ctypes.create_string_buffer(PROG_INFO_SIZE)
    attr = _attr((0, "I", fd), (4, "I", PROG_INFO_SIZE), (8, "Q", _addr(info)))
    sys_bpf(OBJ_GET_INFO_BY_FD, attr)
    ptype, pid = struct.unpack_from("II", info, 0)
    tag = info.raw[8:16].hex()
    jited_len, xlated_len = struct.unpack_from("II", info, 16)
    name = info.raw[64:80].split(b"\0")[0].decode(errors="replace")
    verified, _, btf_id = struct.unpack_from("III", info, 216)
    return {"type": ptype, "id": pid, "tag": tag, "name": name,
            "xlated_insns": xlated_len // 8, "jited_bytes": jited_len,
            "verified_insns": verified, "attach_btf_id": btf_id}


def prog_test_run(fd: int, ctx: bytes = b"") -> int:
    """Run a program once now (raw_tracepoint programs accept this); its return value."""
    cbuf = _buffer(ctx, len(ctx)) if ctx else None
    attr = _attr((0, "I", fd), (40, "I", len(ctx)), (48, "Q", _addr(cbuf)))
    try:
        sys_bpf(PROG_TEST_RUN, attr)
    except OSError as e:
        if e.errno == errno.EPERM:
            raise permission_error("cannot run program", (CAP_BPF,), e.errno) from None
        raise ProgLoadError(f"cannot run program: {errno_text(e.errno)}", e.errno) from None
    return struct.unpack_from("I", attr, 4)[0]


# ---- links ----------------------------------------------------------------------------

def link_create(prog_fd: int, target_fd: int, attach_type: int, cookie: int = 0) -> int:
    """BPF_LINK_CREATE; raises OSError so callers can fall back. For perf-event
    links, cookie is what bpf_get_attach_cookie() returns in the program."""
    fields = [(0, "I", prog_fd), (4, "I", target_fd), (8, "I", attach_type)]
    if cookie:
        fields.append((16, "Q", cookie))   # link_create.perf_event.bpf_cookie
    return sys_bpf(LINK_CREATE, _attr(*fields))


def link_create_uprobe_multi(prog_fd: int, path: str, offsets: list[int], *,
                             ref_ctr_offsets: list[int] | None = None,
                             cookies: list[int] | None = None, retprobe: bool = False,
                             pid: int = 0) -> int:
    """BPF_LINK_CREATE of a uprobe_multi link: one link owning a uprobe at every file
    offset of one binary (the program must be loaded with expected_attach_type
    ATTACH_TRACE_UPROBE_MULTI). pid 0 means every process. Raises OSError."""
    cnt = len(offsets)
    cpath = ctypes.create_string_buffer(path.encode())
    offs = (ctypes.c_uint64 * cnt)(*offsets)
    refs = (ctypes.c_uint64 * cnt)(*ref_ctr_offsets) if ref_ctr_offsets else None
    cooks = (ctypes.c_uint64 * cnt)(*cookies) if cookies else None
    # link_create.uprobe_multi: path, offsets, ref_ctr_offsets, cookies (u64
    # pointers at 16..40), cnt, flags, pid (u32 at 48..56).
    attr = _attr((0, "I", prog_fd), (8, "I", ATTACH_TRACE_UPROBE_MULTI),
                 (16, "Q", _addr(cpath)), (24, "Q", _addr(offs)), (32, "Q", _addr(refs)),
                 (40, "Q", _addr(cooks)), (48, "I", cnt),
                 (52, "I", UPROBE_MULTI_RETURN if retprobe else 0), (56, "I", max(pid, 0)))
    return sys_bpf(LINK_CREATE, attr)


_RETURN_ZERO = bytes.fromhex("b700000000000000" "9500000000000000")   # r0 = 0; exit


def uprobe_multi_supported() -> bool:
    """Whether this kernel has usable uprobe_multi links (Linux 6.6+, with the
    pid filter fixed).

    Loads a two-instruction program with the uprobe_multi attach type and asks
    for a link on "/": a kernel with the feature rejects the directory (EBADF),
    one without rejects the program or the attach type (EINVAL and friends).
    Then once more with pid -1: the first kernels with the feature filtered a pid
    by thread, not process (so -p missed every other thread); the fixed ones
    check the pid before the path (EINVAL), those reach the path (EBADF).
    """
    try:
        fd, _ = prog_load(PROG_KPROBE, _RETURN_ZERO, name="uprobe_multi",
                          expected_attach_type=ATTACH_TRACE_UPROBE_MULTI)
    except KernelError:
        return False
    try:
        return (_link_errno(fd, 0) == errno.EBADF
                and _link_errno(fd, 0xFFFFFFFF) == errno.EINVAL)
    finally:
        os.close(fd)


def perf_cookie_supported() -> bool:
    """Whether perf-event links carry a cookie (Linux 5.15+): the same kernels
    let tracepoint programs call bpf_get_attach_cookie, which older verifiers
    refuse as an unknown helper."""
    get_attach_cookie = 174
    insns = (bytes([0x85, 0, 0, 0]) + get_attach_cookie.to_bytes(4, "little")
             + _RETURN_ZERO)
    try:
        fd, _ = prog_load(PROG_TRACEPOINT, insns, name="cookie_probe")
    except KernelError:
        return False
    os.close(fd)
    return True


def comm_padded_supported() -> bool:
    """Whether bpf_get_current_comm zeroes the buffer past the name's NUL
    (recent kernels; 6.1 copies with strscpy and leaves those bytes as they
    were). Runs a raw tracepoint program that fills 16 bytes with 0xff, asks
    for the name and returns the last byte: 0 where the helper pads. Without
    test runs (before 5.10) the answer is no, the safe side."""
    get_current_comm = 16
    insns = bytes.fromhex(
        "b7010000ffffffff"   # r1 = -1
        "7b1af0ff00000000"   # *(u64 *)(r10 - 16) = r1
        "7b1af8ff00000000"   # *(u64 *)(r10 - 8) = r1
        "bfa1000000000000"   # r1 = r10
        "07010000f0ffffff"   # r1 += -16
        "b702000010000000"   # r2 = 16
    ) + bytes([0x85, 0, 0, 0]) + get_current_comm.to_bytes(4, "little") + bytes.fromhex(
        "71a0ffff00000000"   # r0 = *(u8 *)(r10 - 1)
        "9500000000000000")  # exit
    try:
        fd, _ = prog_load(PROG_RAW_TRACEPOINT, insns, name="comm_probe")
    except KernelError:
        return False
    try:
        return prog_test_run(fd) == 0
    except KernelError:
        return False
    finally:
        os.close(fd)


def map_batch_supported() -> bool:
    """Whether maps can be read in batches (BPF_MAP_LOOKUP_BATCH, Linux 5.6+);
    without it map reads fall back to two calls per key. An empty hash map
    answers a batch read with "no more entries" where the command exists."""
    try:
        fd = map_create(MAP_HASH, 4, 4, 1, name="batch_probe")
    except KernelError:
        return False
    try:
        _lookup_batch(fd, 4, 4, 1, False)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _link_errno(prog_fd: int, pid: int) -> int:
    try:
        link = link_create_uprobe_multi(prog_fd, "/", [0], pid=pid)
    except OSError as e:
        return e.errno
    os.close(link)   # never expected: "/" is no binary
    return 0


def raw_tracepoint_open(prog_fd: int, name: str | None) -> int:
    """BPF_RAW_TRACEPOINT_OPEN; name None attaches a tracing program to its BTF target."""
    cname = ctypes.create_string_buffer(name.encode()) if name is not None else None
    attr = _attr((0, "Q", _addr(cname)), (8, "I", prog_fd))
    return sys_bpf(RAW_TRACEPOINT_OPEN, attr)
