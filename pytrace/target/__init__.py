"""The Target: the one door through which pytrace reaches a kernel.

Everything the compiler and runtime ask of a machine goes through these methods,
so a `RemoteTarget` can forward the very same calls to an agent on another
machine. Two families:

* facts: plain file reads (BTF blobs, tracefs format files, kallsyms, ELF
  binaries, /proc). The host parses them (pytrace.kernel.*), so the agent
  stays a thin loop around syscalls and file reads;
* actions: bpf(2) maps and programs, perf events and links, ring buffers.

File descriptors returned by a Target are plain ints meaningful only to that
Target. Failures raise `pytrace.kernel.errors.KernelError` subclasses whose
message is ready for a user.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class Target(ABC):
    # ---- facts: files and processes -------------------------------------
    @abstractmethod
    def read_file(self, path: str, max_bytes: int | None = None) -> bytes:
        """Whole file contents (or the first max_bytes); FileNotFoundError if absent."""

    @abstractmethod
    def list_dir(self, path: str) -> list[str]:
        """Names in a directory (not paths); FileNotFoundError if absent."""

    @abstractmethod
    def path_exists(self, path: str) -> bool: ...

    def prefetch(self, paths: list[str]) -> None:
        """A hint: these files will be read next (a remote target fetches them
        in one request)."""

    def cgroup_id(self, path: str) -> int:
        """The id of the cgroup directory at `path` (what bpf_get_current_cgroup_id
        returns inside it): its 8-byte file handle. OSError (with errno) on failure."""
        raise OSError(95, "cgroup ids are not available on this target")

    @abstractmethod
    def num_possible_cpus(self) -> int: ...

    @abstractmethod
    def online_cpus(self) -> list[int]: ...

    # ---- facts: kernel features ------------------------------------------------
    def supports(self, feature: str) -> bool:
        """Whether the kernel has an optional feature, probed once per target.
        Known: "uprobe_multi" (many uprobes in one BPF link, Linux 6.6+; required
        with the process-wide pid filter of later kernels), "perf_cookie" (perf-event
        links carry a cookie for bpf_get_attach_cookie, Linux 5.15+), "map_batch"
        (BPF_MAP_LOOKUP_BATCH, Linux 5.6+). Unknown
        features, and targets that do not probe, answer False (the portable path)."""
        return False

    # ---- facts and actions around the kernel: processes, clocks, the machine ----
    @property
    def machine(self) -> str:
        """The CPU architecture (`x86_64`, `aarch64`): it picks register layouts."""
        raise NotImplementedError

    def boot_wall_ns(self) -> int:
        """Wall-clock time of CLOCK_MONOTONIC's zero, in ns (strftime adds nsecs to it)."""
        raise NotImplementedError

    def errno_text(self, errno: int) -> str:
        """strerror(errno) as the target's C library words it (strerror(), -k)."""
        raise NotImplementedError

    def run_command(self, command: str) -> bytes:
        """system(): run a shell command on the target; its stdout."""
        raise NotImplementedError

    def start_command(self, command: str):
        """`-c CMD`: a process started on the target and held before exec; it has
        .pid, .release(), .exited(), .fileno() (readable once it exited), .stop()."""
        raise NotImplementedError

    def watch_process(self, pid: int):
        """`-p PID`: the process on the target whose exit ends the trace;
        .pid, .exited(), .fileno(), .close(). PytraceError if there is none."""
        raise NotImplementedError

    # ---- round trips (a remote target counts them; a local one makes none) ----
    round_trips = 0

    def sync(self) -> None:
        """Wait until every action asked for so far is done, raising the first
        failure (a remote target sends some actions without waiting)."""

    def check_privileges(self) -> None:
        """Raise KernelPermissionError, with one line naming what is needed, when
        this target's process may not trace. Targets that cannot tell do nothing:
        the first refused action then says what it lacks."""

    # ---- bpf(2): maps ----------------------------------------------------
    @abstractmethod
    def map_create(self, map_type: int, key_size: int, value_size: int,
                   max_entries: int, flags: int = 0, name: str = "") -> int: ...

    @abstractmethod
    def map_lookup(self, fd: int, key: bytes, value_size: int) -> bytes | None:
        """Value bytes, or None when the key is absent. Per-CPU maps return
        value_size rounded up to 8 times num_possible_cpus bytes."""

    @abstractmethod
    def map_update(self, fd: int, key: bytes, value: bytes, flags: int = 0) -> None: ...

    @abstractmethod
    def map_delete(self, fd: int, key: bytes) -> bool:
        """True if deleted, False if the key was absent."""

    @abstractmethod
    def map_get_next_key(self, fd: int, key: bytes | None, key_size: int) -> bytes | None: ...

    @abstractmethod
    def map_lookup_batch(self, fd: int, key_size: int, value_size: int,
                         max_entries: int, delete: bool = False) -> list[tuple[bytes, bytes]]:
        """Every (key, value) of the map, through BPF_MAP_LOOKUP[_AND_DELETE]_BATCH
        where the kernel has it, key-by-key otherwise."""

    def map_lookup_batches(self, requests: list[tuple]) -> list[list[tuple[bytes, bytes]]]:
        """map_lookup_batch for several maps, each request its (fd, key_size,
        value_size, max_entries) arguments: what exit reads, in one request to a
        remote target."""
        return [self.map_lookup_batch(*request) for request in requests]

    @abstractmethod
    def map_delete_batch(self, fd: int, keys: list[bytes], key_size: int) -> int: ...

    # ---- bpf(2): programs --------------------------------------------------
    @abstractmethod
    def prog_load(self, prog_type: int, insns: bytes, license: str = "GPL", *,
                  name: str = "", expected_attach_type: int = 0,
                  attach_btf_id: int = 0, kern_version: int = 0,
                  log_level: int = 0, prog_btf_fd: int = 0,
                  func_info: bytes = b"") -> tuple[int, str]:
        """Load a program; returns (fd, verifier log). On rejection raises
        ProgLoadError carrying the verifier log. prog_btf_fd and func_info
        (8-byte bpf_func_info records) describe its functions, which programs
        with callback subprograms need."""

    @abstractmethod
    def btf_load(self, blob: bytes) -> int:
        """Load a BTF blob into the kernel; returns its fd."""

    @abstractmethod
    def prog_test_run(self, fd: int, ctx: bytes = b"") -> int:
        """Run a loaded program once in the caller's context (BPF_PROG_TEST_RUN);
        returns its return value. BEGIN and END probes run this way."""

    @abstractmethod
    def prog_info(self, fd: int) -> dict:
        """At least {'xlated_insns': n, 'verified_insns': n, 'id': n}."""

    def load_all(self, maps: list[dict], programs: list[dict]) -> tuple[list[int], list[int]]:
        """Create every map and load every program in one step; see
        pytrace.kernel.actions.KernelActions.load_all for the shape and errors."""
        raise NotImplementedError

    def probe_loads(self, requests: list[dict]) -> list[list]:
        """What --info asks: can these maps be created, these programs loaded?
        Each request {"map": [type, key_size, value_size, max_entries]} or
        {"prog": [prog_type, insns], **prog_load keywords} is tried and undone;
        one [accepted, verifier log or None] each, all in one request to a
        remote target (see pytrace.kernel.actions.KernelActions.probe_loads)."""
        raise NotImplementedError

    def load_all_later(self, maps: list[dict], programs: list[dict],
                       explain) -> tuple[list[int], list[int]]:
        """load_all, where a target may send it without waiting (a remote one:
        with its next request that waits) and return stand-in fds usable in
        every later call. A failure is then raised by that request as
        explain(LoadStepError); here, at once as load_all raises it."""
        return self.load_all(maps, programs)

    def pending(self) -> bool:
        """True while actions were sent (or queued) and not yet confirmed."""
        return False

    def interrupted(self) -> None:
        """The user asked the run to end (Ctrl-C, SIGTERM); may run in a signal
        handler. A remote target then stops waiting for a peer that does not
        answer (after a few seconds) instead of hanging the exit."""

    # ---- attach: every attachment is owned by the returned handle ----------
    @abstractmethod
    def attach_tracepoint(self, prog_fd: int, category: str, event: str,
                          cookie: int = 0) -> int:
        """A nonzero cookie (only when supports("perf_cookie")) is what
        bpf_get_attach_cookie returns in the program at this point."""

    @abstractmethod
    def attach_raw_tracepoint(self, prog_fd: int, name: str) -> int: ...

    @abstractmethod
    def attach_kprobe(self, prog_fd: int, func: str, offset: int = 0,
                      retprobe: bool = False, cookie: int = 0) -> int:
        """cookie: as for attach_tracepoint."""

    @abstractmethod
    def attach_uprobe(self, prog_fd: int, path: str, offset: int, retprobe: bool = False,
                      pid: int = -1, ref_ctr_offset: int = 0) -> int: ...

    def attach_uprobe_multi(self, prog_fd: int, path: str, offsets: list[int],
                            retprobe: bool = False, pid: int = -1,
                            ref_ctr_offsets: list[int] | None = None,
                            cookies: list[int] | None = None) -> int:
        """Attach a program (loaded with expected_attach_type BPF_TRACE_UPROBE_MULTI)
        at every file offset of one binary through ONE uprobe_multi link; cookies
        (one per offset) are what bpf_get_attach_cookie returns there. Only called
        when supports("uprobe_multi") said yes."""
        raise NotImplementedError("this target has no uprobe_multi links")

    @abstractmethod
    def attach_perf_event(self, prog_fd: int, ev_type: int, config: int, *,
                          sample_period: int = 0, sample_freq: int = 0,
                          pid: int = -1, cpu: int = 0) -> int:
        """software/hardware/timer events (profile, interval, software, hardware)."""

    @abstractmethod
    def attach_tracing(self, prog_fd: int) -> int:
        """fentry/fexit/tp_btf through BPF_LINK_CREATE (or raw_tracepoint_open)."""

    @abstractmethod
    def attach_watchpoint(self, prog_fd: int, addr: int, length: int, mode: str,
                          pid: int = -1, cpu: int = 0) -> int: ...

    @abstractmethod
    def detach(self, handle: int) -> None:
        """Undo one attach; closing is enough for the kernel to clean up."""

    def detach_many(self, handles: list[int]) -> None:
        """Detach several handles (concurrently where that is faster); errors of
        ones already gone are ignored."""
        for handle in handles:
            try:
                self.detach(handle)
            except OSError:
                pass

    # ---- events ---------------------------------------------------------------
    @abstractmethod
    def ring_buffer(self, map_fd: int):
        """A reader with .poll(timeout_ms) -> list[bytes] (records in order) and .close()."""

    @abstractmethod
    def close(self, fd: int) -> None:
        """Close a map, program or attachment fd."""

    @abstractmethod
    def close_all(self, background: bool = False) -> None:
        """Detach and close everything this Target opened (idempotent). With
        background, closes that are slow in the kernel but no longer matter (trace
        events without their program) may finish after the caller has exited."""
