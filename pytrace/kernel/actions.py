"""Kernel actions on this machine: bpf(2) maps and programs, perf events, links,
ring buffers, and the bookkeeping that undoes exactly what was done.

`KernelActions` is the action half of `LocalTarget` and, unchanged, of the remote
agent (which runs it on the traced machine): so it is stdlib only and imports
nothing of pytrace outside the agent's modules (pytrace.kernel.{bpf, perf,
ringbuf, errors, files, process, actions}). It owns which fds are maps (and their
per-CPU value sizes), which programs expect which attach type, and which fds
make up one attachment, so that `detach` and `close_all` undo exactly what was
done, and which optional kernel features exist (`supports`, each probed once).
If the process is killed instead, closing the fds (the kernel does it) is
enough for the kernel to remove every probe.
"""

from __future__ import annotations

import os

import errno
import struct

from pytrace.kernel import bpf, perf
from pytrace.kernel.errors import AttachError, KernelError, LoadStepError, ProgLoadError
from pytrace.kernel.ringbuf import RingBufferReader

INSN_SIZE = 8
LD_IMM64 = 0x18
PSEUDO_MAP_FD = 1


class KernelActions:
    """The action half of a Target on the machine it runs on (see the module doc)."""

    def __init__(self):
        self._maps: dict[int, tuple[int, int, int, int]] = {}   # fd -> type, key, value, max
        self._progs: dict[int, int] = {}                         # fd -> expected_attach_type
        self._btfs: set[int] = set()                             # BTF blobs we loaded
        self._attachments: dict[int, list[int]] = {}             # handle -> fds it owns
        # Tracepoint, kprobe and uprobe perf events whose link is closed: no program
        # runs on them any more, but closing one waits out an RCU grace period in
        # the kernel (~40 ms, one at a time), so they are closed last (close_all).
        self._slow_events: set[int] = set()
        self._quiet_events: list[int] = []
        self._readers: dict[int, RingBufferReader] = {}          # id(reader) -> reader
        self._ncpus: int | None = None
        self._features: dict[str, bool] = {}                     # supports() answers
        perf.mount_tracefs_if_missing()

    # ---- kernel features -----------------------------------------------------------------
    def supports(self, feature):
        if feature not in self._features:
            probe = _FEATURE_PROBES.get(feature)
            self._features[feature] = bool(probe and probe())
        return self._features[feature]

    def all_features(self):
        """Every optional feature this kernel layer knows how to probe, answered."""
        return {name: self.supports(name) for name in sorted(_FEATURE_PROBES)}

    # ---- maps ---------------------------------------------------------------------------
    def _ncpu(self) -> int:
        if self._ncpus is None:
            self._ncpus = self.num_possible_cpus()
        return self._ncpus

    def _map_type(self, fd: int) -> int:
        if fd not in self._maps:
            info = bpf.map_info(fd)
            self._maps[fd] = (info["type"], info["key_size"], info["value_size"],
                              info["max_entries"])
        return self._maps[fd][0]

    def _user_value_size(self, fd: int, value_size: int) -> int:
        if self._map_type(fd) in bpf.PERCPU_MAPS:
            return bpf.percpu_value_size(value_size, self._ncpu())
        return value_size

    def map_create(self, map_type, key_size, value_size, max_entries, flags=0, name=""):
        fd = bpf.map_create(map_type, key_size, value_size, max_entries, flags, name)
        self._maps[fd] = (map_type, key_size, value_size, max_entries)
        return fd

    def map_lookup(self, fd, key, value_size):
        return bpf.map_lookup(fd, key, self._user_value_size(fd, value_size))

    def map_update(self, fd, key, value, flags=0):
        self._map_type(fd)   # fills the cache for maps this Target did not create
        map_type, _, value_size, _ = self._maps[fd]
        if map_type in bpf.PERCPU_MAPS:
            # The kernel reads one slot per possible CPU; a short value means "the rest zero".
            value = value.ljust(bpf.percpu_value_size(value_size, self._ncpu()), b"\0")
        bpf.map_update(fd, key, value, flags)

    def map_delete(self, fd, key):
        return bpf.map_delete(fd, key)

    def map_get_next_key(self, fd, key, key_size):
        return bpf.map_get_next_key(fd, key, key_size)

    def map_lookup_batch(self, fd, key_size, value_size, max_entries, delete=False):
        return bpf.map_lookup_batch(fd, key_size, self._user_value_size(fd, value_size),
                                    max_entries, delete)

    def map_delete_batch(self, fd, keys, key_size):
        return bpf.map_delete_batch(fd, keys, key_size)

    # ---- programs ----------------------------------------------------------------------
    def prog_load(self, prog_type, insns, license="GPL", *, name="", expected_attach_type=0,
                  attach_btf_id=0, kern_version=0, log_level=0, prog_btf_fd=0,
                  func_info=b""):
        fd, log = bpf.prog_load(prog_type, insns, license, name=name,
                                expected_attach_type=expected_attach_type,
                                attach_btf_id=attach_btf_id, kern_version=kern_version,
                                log_level=log_level, prog_btf_fd=prog_btf_fd,
                                func_info=func_info)
        self._progs[fd] = expected_attach_type
        return fd, log

    def btf_load(self, blob):
        fd = bpf.btf_load(blob)
        self._btfs.add(fd)
        return fd

    def prog_test_run(self, fd, ctx=b""):
        return bpf.prog_test_run(fd, ctx)

    def prog_info(self, fd):
        return bpf.prog_info(fd)

    # ---- what the kernel accepts (--info) ---------------------------------------------
    def probe_loads(self, requests):
        """Try each request and undo it at once: {"map": [type, key_size,
        value_size, max_entries]} or {"prog": [prog_type, insns], and
        prog_load's keywords}. One [accepted, verifier log] per request; the
        log is None when the refusal was not the verifier's (no log)."""
        out = []
        for request in requests:
            try:
                if "map" in request:
                    fd = self.map_create(*request["map"], name="info_probe")
                else:
                    prog_type, insns = request["prog"]
                    kwargs = {k: v for k, v in request.items() if k != "prog"}
                    fd = self.prog_load(prog_type, insns, "GPL", name="info_probe", **kwargs)[0]
            except ProgLoadError as e:
                out.append([False, e.log or ""])
                continue
            except KernelError:
                out.append([False, None])
                continue
            self.close(fd)
            out.append([True, None])
        return out

    # ---- a whole program set at once -----------------------------------------------------
    def load_all(self, maps, programs):
        """Create every map and load every program: (map fds, program fds).

        maps: dicts of map_create's arguments (type, key_size, value_size,
        max_entries, name). programs: dicts of prog_type, insns (whose map
        references hold map *indexes*: they are patched to the new fds here),
        name, expected_attach_type, attach_btf_id, and btf + func_info for a
        program with subprograms. A rejected program is loaded again with the
        verifier log on when the first try gave none. On failure everything made
        is closed and LoadStepError says which map or program failed and why.
        One request for a remote target, whatever the program's size.
        """
        map_fds, prog_fds = [], []
        step = ("map", 0)
        try:
            for i, m in enumerate(maps):
                step = ("map", i)
                map_fds.append(self.map_create(m["type"], m["key_size"], m["value_size"],
                                               m["max_entries"], name=m.get("name", "")))
            for i, p in enumerate(programs):
                step = ("prog", i)
                prog_fds.append(self._load_one(p, patch_map_fds(p["insns"], map_fds)))
        except KernelError as e:
            for fd in prog_fds + map_fds:
                self.close(fd)
            raise LoadStepError(step[0], step[1], e) from None
        except BaseException:
            for fd in prog_fds + map_fds:
                self.close(fd)
            raise
        return map_fds, prog_fds

    def _load_one(self, p, insns):
        kwargs = dict(name=p.get("name", ""),
                      expected_attach_type=p.get("expected_attach_type", 0),
                      attach_btf_id=p.get("attach_btf_id", 0))
        btf_fd = self.btf_load(p["btf"]) if p.get("btf") else 0
        if btf_fd:
            kwargs.update(prog_btf_fd=btf_fd, func_info=p.get("func_info", b""))
        try:
            try:
                return self.prog_load(p["prog_type"], insns, "GPL", **kwargs)[0]
            except ProgLoadError as first:
                if first.errno == errno.EPERM or (first.log or "").strip():
                    raise
                # Loading without a log is faster; ask again for the reason.
                try:
                    return self.prog_load(p["prog_type"], insns, "GPL", log_level=1,
                                          **kwargs)[0]
                except ProgLoadError as second:
                    if not (second.log or "").strip():
                        second.log = str(second)
                    raise second from None
        finally:
            if btf_fd:
                self.close(btf_fd)   # the program keeps its own reference

    # ---- attach ----------------------------------------------------------------------------
    def _own(self, fds: list[int]) -> int:
        handle = fds[0]
        self._attachments[handle] = fds
        return handle

    def _attach_events(self, prog_fd: int, perf_fds: list[int], what: str,
                       cookie: int = 0, slow_close: bool = False) -> int:
        """Link prog_fd to every perf fd; on any failure close what was opened.
        slow_close: the events are trace events, whose close is slow."""
        owned: list[int] = []
        try:
            for pfd in perf_fds:
                owned.append(pfd)
                link = perf.attach_to_event(prog_fd, pfd, what, cookie)
                if link is not None:
                    owned.insert(0, link)   # the handle is a link fd when there is one
                    if slow_close:
                        self._slow_events.add(pfd)
        except BaseException:
            for fd in owned + [p for p in perf_fds if p not in owned]:
                os.close(fd)
            raise
        return self._own(owned)

    def attach_tracepoint(self, prog_fd, category, event, cookie=0):
        pfd = perf.open_tracepoint(category, event)
        return self._attach_events(prog_fd, [pfd], f"tracepoint {category}:{event}", cookie,
                                   slow_close=True)

    def attach_raw_tracepoint(self, prog_fd, name):
        return self._own([perf.attach_raw_tracepoint(prog_fd, name)])

    def attach_kprobe(self, prog_fd, func, offset=0, retprobe=False, cookie=0):
        pfd = perf.open_kprobe(func, offset, retprobe)
        return self._attach_events(prog_fd, [pfd], f"kprobe {func}", cookie, slow_close=True)

    def attach_uprobe(self, prog_fd, path, offset, retprobe=False, pid=-1, ref_ctr_offset=0):
        pfd = perf.open_uprobe(path, offset, retprobe, pid, ref_ctr_offset)
        return self._attach_events(prog_fd, [pfd], f"uprobe {path}:{offset:#x}",
                                   slow_close=True)

    def attach_uprobe_multi(self, prog_fd, path, offsets, retprobe=False, pid=-1,
                            ref_ctr_offsets=None, cookies=None):
        return self._own([perf.attach_uprobe_multi(prog_fd, path, offsets, retprobe, pid,
                                                   ref_ctr_offsets, cookies)])

    def attach_perf_event(self, prog_fd, ev_type, config, *, sample_period=0, sample_freq=0,
                          pid=-1, cpu=0):
        """cpu=-1 with pid=-1 means one event per online CPU (profile:hz)."""
        cpus = self.online_cpus() if cpu == -1 and pid == -1 else [cpu]
        pfds: list[int] = []
        try:
            for c in cpus:
                pfds.append(perf.open_event(ev_type, config, sample_period=sample_period,
                                            sample_freq=sample_freq, pid=pid, cpu=c))
        except BaseException:
            for fd in pfds:
                os.close(fd)
            raise
        return self._attach_events(prog_fd, pfds, f"perf event {ev_type}:{config}")

    def attach_tracing(self, prog_fd):
        return self._own([perf.attach_tracing(prog_fd, self._progs.get(prog_fd))])

    def attach_watchpoint(self, prog_fd, addr, length, mode, pid=-1, cpu=0):
        pfd = perf.open_breakpoint(addr, length, mode, pid, cpu)
        return self._attach_events(prog_fd, [pfd], f"watchpoint {addr:#x}")

    def detach(self, handle):
        """Closing the link stops the program at once; a trace event left without
        it is closed by close_all (see _slow_events)."""
        fds = self._attachments.pop(handle, None)
        if fds is None:
            raise AttachError(f"no attachment with handle {handle}")
        for fd in fds:
            if fd in self._slow_events:
                self._slow_events.discard(fd)
                self._quiet_events.append(fd)
            else:
                _close_quietly(fd)

    def detach_many(self, handles):
        """Detach several at once, concurrently: unlinking a program from a trace
        event waits out an RCU grace period (~36 ms here), and those overlap
        across threads (64 take ~0.1 s). Closing the bare events is slower still
        and serialized in the kernel: close_all does that. Errors (already gone)
        are ignored."""
        def one(handle):
            try:
                self.detach(handle)
            except (OSError, KernelError):
                pass
        if len(handles) <= 1:
            for handle in handles:
                one(handle)
            return
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=min(len(handles), 32)) as pool:
            list(pool.map(one, handles))

    # ---- events ------------------------------------------------------------------------------
    def ring_buffer(self, map_fd):
        known = self._maps.get(map_fd)
        reader = RingBufferReader(map_fd, known[3] if known else None)
        self._readers[id(reader)] = reader
        return reader

    def close(self, fd):
        if fd in self._attachments:
            self.detach(fd)
            return
        for key, reader in list(self._readers.items()):
            if reader.fd == fd:
                reader.close()
                del self._readers[key]
        self._maps.pop(fd, None)
        self._progs.pop(fd, None)
        self._btfs.discard(fd)
        _close_quietly(fd)

    def close_all(self, background=False):
        # Links and perf events first so no program fires while maps go away.
        for handle in list(self._attachments):
            self.detach(handle)
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
        for fd in list(self._progs) + list(self._maps) + list(self._btfs):
            _close_quietly(fd)
        self._progs.clear()
        self._maps.clear()
        self._btfs.clear()
        quiet, self._quiet_events = self._quiet_events, []
        if background and len(quiet) > BACKGROUND_CLOSE_MIN:
            release_in_background(quiet)
        for fd in quiet:
            _close_quietly(fd)


def patch_map_fds(insns, map_fds):
    """Rewrite every ld_imm64 with src_reg=BPF_PSEUDO_MAP_FD: imm MAP_INDEX -> fd."""
    if len(insns) % INSN_SIZE:
        raise KernelError("internal: program size is not a whole number of instructions")
    out = bytearray(insns)
    pc = 0
    while pc < len(out):
        if out[pc] == LD_IMM64:
            if out[pc + 1] >> 4 == PSEUDO_MAP_FD:
                (index,) = struct.unpack_from("<i", out, pc + 4)
                if not 0 <= index < len(map_fds):
                    raise KernelError("internal: map index {} out of range".format(index))
                struct.pack_into("<i", out, pc + 4, map_fds[index])
            pc += 2 * INSN_SIZE  # ld_imm64 spans two instruction slots
        else:
            pc += INSN_SIZE
    return bytes(out)


# Below this many quiet trace events (~40 ms each) closing them in place is quick.
BACKGROUND_CLOSE_MIN = 8


def release_in_background(fds: list[int]) -> None:
    """Hand the last references of fds to a detached child that closes them.

    The caller then closes its own copies, which only drops references, and
    can exit at once; the kernel's slow part (an RCU grace period per trace
    event) happens in the child. Nothing runs on these events any more: their
    programs were unlinked before.
    """
    keep = set(fds)
    try:
        pid = os.fork()
    except OSError:
        return   # close them in place, slowly
    if pid:
        return
    try:
        os.setsid()
        # Let go of the terminal, pipes and everything else at once: whoever
        # reads pytrace's output must see it end when pytrace ends.
        devnull = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(devnull, std)
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd > 2 and fd not in keep:
                _close_quietly(fd)
        for fd in fds:
            _close_quietly(fd)
    finally:
        os._exit(0)


# How each optional kernel feature is probed (once per KernelActions).
_FEATURE_PROBES = {"uprobe_multi": bpf.uprobe_multi_supported,
                   "perf_cookie": bpf.perf_cookie_supported,
                   "map_batch": bpf.map_batch_supported,
                   "comm_padded": bpf.comm_padded_supported}


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
