"""RemoteTarget: the Target whose kernel is reached through an agent.

The agent (pytrace.remote.agent) is started by a transport (ssh, adb, any
command: pytrace.remote.transports) and shipped over its stdin; this class
speaks the protocol (pytrace.remote.protocol) to it. Requests are coarse:

* actions whose result the host does not need at once (attaches, detaches,
  closes, map updates, starting a ring buffer stream, releasing the `-c`
  child) are queued with a handle the host picks, and go out with the next
  request that needs an answer (or `sync()`): a one-liner attaches all its
  probes in one round trip;
* `load_all` creates every map and loads every program in one request;
* ring-buffer records stream from the agent unasked (EVENTS frames);
* facts: the handshake brings the kernel release, architecture, CPUs, BTF
  presence and features; big files (BTF, ELF binaries, kallsyms) come
  compressed and are cached on this machine by content hash (a second run
  against the same kernel fetches no BTF); the tracefs tree comes in one
  request, tracepoint formats in bulk.

`round_trips` counts the requests this host waited for.
"""

from __future__ import annotations

import json
import os
import select
import threading
import time

from pytrace.kernel import errors as E
from pytrace.kernel.errors import PytraceError
from pytrace.remote import protocol as P
from pytrace.remote.transports import handshake_timeout
from pytrace.target import Target

FIRST_HANDLE = 1 << 24     # host-chosen handles; real fds are far below
READ_CHUNK = 1 << 20
MAX_PUMP = 1 << 22         # bytes read per read_blob: bounds the memory a flood takes
IMMUTABLE_PREFIXES = ("/sys/kernel/btf/",)
# Once the user asked the run to end (Ctrl-C), how long a silent target may
# keep it waiting for an answer before pytrace gives up on it.
STALL_GRACE_S = 3.0
_TRACE = bool(os.environ.get("PYTRACE_REMOTE_TRACE"))   # each request on stderr


def _trace(text: str) -> None:
    import sys
    import time
    sys.stderr.write(f"pytrace: {time.monotonic():.3f} {text}\n")


def _write_command_output(data: bytes) -> None:
    """The remote -c command's stdout, onto ours, as a local command's would be
    (straight to fd 1: not through pytrace's buffered output, not into -o)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(1, view):]
        except BlockingIOError:   # a non-blocking stdout that is full: wait for room
            import select
            select.select([], [1], [], 1.0)
        except OSError:
            return   # a closed stdout: the output is dropped, as it would be locally


class RemoteError(PytraceError):
    """The session with the target failed (connection, protocol, agent)."""

    may_be_what_the_machine_lacks = False


class Connection:
    """Frames over a transport's pipes, with the inbox for unasked frames."""

    def __init__(self, transport):
        self.transport = transport
        self.in_fd = transport.stdout_fd
        self.out_fd = transport.stdin_fd
        os.set_blocking(self.in_fd, False)
        os.set_blocking(self.out_fd, False)   # send() reads while a write would block
        self.reader = P.FrameReader()
        self.replies: dict[int, tuple[int, object]] = {}
        self.events: dict[int, list[bytes]] = {}
        self.exited: set[int] = set()
        self.closed = False
        self.lock = threading.RLock()
        self.pre_hello = bytearray()
        self.hello_info: dict | None = None
        self.last_read = 0.0    # when the agent last sent something
        self.last_reply = 0.0   # when it last answered a request
        self.keep_events = True   # off once the run is ending: a flood is not queued

    # ---- raw io ----------------------------------------------------------------------
    def lost(self, what: str = "") -> RemoteError:
        self.closed = True
        reason = self.transport.failure_reason()
        text = f"lost the connection to the target {self.transport.name}"
        if what:
            text += f" ({what})"
        if reason:
            text += f": {reason}"
        return RemoteError(text)

    def _read_some(self, limit: int = READ_CHUNK) -> bool:
        """Read what the pipe has (without waiting); False when nothing was there."""
        if self.closed:
            raise self.lost()
        try:
            data = os.read(self.in_fd, limit)
        except BlockingIOError:
            return False
        except OSError as e:
            raise self.lost(e.strerror) from None
        if not data:
            raise self.lost()
        self.last_read = time.monotonic()
        self.reader.feed(data)
        return True

    def _dispatch(self) -> None:
        try:
            frames = self.reader.frames()
        except P.ProtocolError as e:
            self.closed = True
            raise RemoteError(f"target {self.transport.name}: {e}") from None
        for kind, payload in frames:
            if kind == P.EVENTS:
                if self.keep_events:
                    handle, blob = P.split_events(payload)
                    self.events.setdefault(handle, []).append(blob)
            elif kind in (P.REPLY, P.ERROR):
                self.last_reply = time.monotonic()
                msg = _decode(payload, self.transport.name)
                self.replies[msg.get("id")] = (kind, msg)
            elif kind == P.EXITED:
                self.exited.add(_decode(payload, self.transport.name).get("pid"))
            elif kind == P.OUTPUT:
                _write_command_output(payload)
            else:
                raise RemoteError(f"target {self.transport.name}: unexpected frame kind {kind}")

    def pump(self, limit: int = MAX_PUMP) -> None:
        """Take in whatever has arrived, without waiting."""
        with self.lock:
            got = 0
            while got < limit and self._read_some():
                got += READ_CHUNK
            self._dispatch()

    def wait_readable(self, timeout: float | None) -> bool:
        return bool(select.select([self.in_fd], [], [], timeout)[0])

    def send(self, data: bytes) -> None:
        """Write all of data; read meanwhile, so neither side blocks the other
        (before the HELLO, what arrives is kept for the handshake)."""
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.out_fd, view)
                view = view[n:]
                continue
            except BlockingIOError:
                pass
            except OSError as e:
                raise self.lost(e.strerror) from None
            readable, _, _ = select.select([self.in_fd], [self.out_fd], [])
            if readable:
                if self.hello_info is None:
                    self._hello_step()
                else:
                    self._read_some()
                    self._dispatch()

    # ---- handshake ---------------------------------------------------------------------
    def hello(self, timeout: float) -> dict:
        """Wait for the agent's HELLO. Bytes before it (a chatty login shell)
        are skipped; the session ends if the transport ends first, or with
        HandshakeTimeout when nothing comes for `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.hello_info is None:
            left = deadline - time.monotonic()
            if left <= 0 or not self.wait_readable(left):
                raise HandshakeTimeout()
            self._hello_step()
        return self.hello_info

    def _hello_step(self) -> None:
        """Read what the transport sent before (and with) the HELLO."""
        try:
            data = os.read(self.in_fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as e:
            raise self.lost(e.strerror) from None
        if not data:
            raise self.transport.start_failure(bytes(self.pre_hello))
        self.pre_hello += data
        marker = P.MAGIC
        at = self.pre_hello.find(marker)
        before = self.pre_hello[:at] if at >= 0 else self.pre_hello
        if before.translate(None, _TEXT):
            # Only a login shell's chatter may come first, and it is text.
            raise RemoteError(f"target {self.transport.name}: corrupt frame before the "
                              "handshake (not a pytrace agent speaking?)")
        while at >= 0 and len(self.pre_hello) >= at + 4:
            if self.pre_hello[at + 3] == P.HELLO:
                self.reader.feed(bytes(self.pre_hello[at:]))
                try:
                    frames = self.reader.frames()
                except P.ProtocolError as e:
                    raise RemoteError(f"target {self.transport.name}: {e}") from None
                if frames:
                    kind, payload = frames[0]
                    self.reader = P.FrameReader()   # re-feed what followed HELLO
                    rest = bytes(self.pre_hello[at:])[P.HEADER_SIZE + len(payload):]
                    self.reader.feed(rest)
                    self.hello_info = _decode(payload, self.transport.name)
                    self._dispatch()
                    return
                self.reader = P.FrameReader()
                return
            at = self.pre_hello.find(marker, at + 1)


class HandshakeTimeout(Exception):
    """No HELLO within the handshake timeout."""


# Bytes a shell's chatter before the agent's HELLO may contain (text, UTF-8).
_TEXT = bytes([9, 10, 13]) + bytes(range(32, 127)) + bytes(range(128, 256))


def _decode(payload: bytes, name: str):
    try:
        return P.decode(payload)
    except P.ProtocolError as e:
        raise RemoteError(f"target {name}: {e}") from None


# ---- errors the agent reports -------------------------------------------------------------

_KERNEL_ERRORS = {cls.__name__: cls for cls in (
    E.KernelError, E.MapError, E.ProgLoadError, E.AttachError, E.KernelPermissionError,
    E.ProgPermissionError)}
_OS_ERRORS = {cls.__name__: cls for cls in (
    OSError, FileNotFoundError, PermissionError, ProcessLookupError, IsADirectoryError,
    NotADirectoryError, ChildProcessError, BrokenPipeError, FileExistsError)}


def rebuild_error(value: dict, target_name: str) -> BaseException:
    """The agent's error as the exception a LocalTarget would have raised."""
    name, message = value.get("class"), value.get("message", "")
    err = value.get("errno", 0) or 0
    if name == "LoadStepError":
        cause = rebuild_error(value.get("cause") or {}, target_name)
        if not isinstance(cause, E.KernelError):
            cause = E.KernelError(str(cause))
        return E.LoadStepError(value.get("kind", "prog"), value.get("index", 0), cause)
    if name in ("ProgLoadError", "ProgPermissionError"):
        return _KERNEL_ERRORS[name](message, err, value.get("log", ""))
    if name in _KERNEL_ERRORS:
        return _KERNEL_ERRORS[name](message, err)
    if name == "PytraceError":
        return PytraceError(message)
    if name in _OS_ERRORS:
        if "strerror" in value:
            return _OS_ERRORS[name](err, value["strerror"], *(
                [value["filename"]] if "filename" in value else []))
        return _OS_ERRORS[name](message)
    if name == "NotImplementedError":
        return NotImplementedError(message)
    return RemoteError(f"the agent on {target_name} failed: {name}: {message}")


def _other_tracefs(path: str, tracefs: str | None) -> bool:
    """Whether `path` is under a tracefs mount point other than the target's."""
    from pytrace.kernel.tracefs import TRACEFS_ROOTS
    return bool(tracefs) and any(path.startswith(root + "/") for root in TRACEFS_ROOTS
                                 if root != tracefs)


# ---- the Target ---------------------------------------------------------------------------

class RemoteTarget(Target):
    def __init__(self, transport, config: dict | None = None, version: str | None = None):
        from pytrace.remote import bundle

        self.name = transport.name
        program, self.agent_version = bundle.agent_program(config, version)
        if _TRACE:
            _trace(f"starting {transport.name}")
        transport.start(bundle.BOOTSTRAP)
        self.transport = transport
        self.conn = Connection(transport)
        self.round_trips = 0
        self.fetched_bytes = 0                     # file contents that came over the wire
        self._next_id = 1
        self._next_handle = FIRST_HANDLE
        self._queue: list[list] = []
        self._files: dict[str, bytes] = {}        # immutable facts read this session
        self._exists: dict[str, bool] = {}
        self._dirs: dict[str, list[str]] = {}
        self._closed = False
        self._info: dict | None = None
        self._cache: FactCache | None = None
        self._check_privileges = False
        self._explain: dict[int, object] = {}    # id(queued call) -> error translator
        self._explainers: dict[int, list] = {}   # request id -> translators of its calls
        self._prefetching: list[tuple[int, list[str]]] = []   # sent, answer not taken
        self._asked: set[str] = set()             # the paths of those
        self._interrupted_at: float | None = None
        try:
            self.conn.send(program)
        except RemoteError:   # it ended before reading the agent: say why
            transport.stop()
            raise transport.start_failure(b"") from None
        # The HELLO is awaited only when a fact or an action is first needed:
        # meanwhile the host parses and compiles while the agent starts.

    @property
    def connecting(self) -> bool:
        """True until the agent's HELLO has arrived."""
        return self._info is None and not self._closed

    @property
    def info(self) -> dict:
        """The agent's HELLO: kernel release, machine, CPUs, BTF, features..."""
        if self._info is None:
            self._connect()
        return self._info

    def _connect(self) -> None:
        from pytrace.remote import bundle
        timeout = handshake_timeout()
        try:
            info = self.conn.hello(timeout)
        except HandshakeTimeout:
            self._closed = True
            self.transport.kill()
            raise RemoteError(f"--target {self.name}: no answer from the agent within "
                              f"{timeout:g} s (is the transport waiting for a password or "
                              "a confirmation?); PYTRACE_REMOTE_TIMEOUT sets the wait") from None
        except BaseException:
            self._closed = True
            self.transport.stop()
            raise
        self.round_trips += 1
        if _TRACE:
            _trace(f"hello from {self.name}")
        self._info = info
        # From now on what runs on the target (system(), -c) keeps its stderr;
        # before, the transport's words were kept for the error (start_failure).
        self.transport.forward_stderr = True
        self._check_hello()
        if self._check_privileges:
            self._privileges_check()
        self._cache = FactCache(bundle.cache_dir(), info.get("release", ""))
        tracefs = info.get("tracefs")
        if tracefs:
            self._exists[tracefs + "/events"] = True

    def _check_hello(self) -> None:
        agent = self.info.get("agent")
        if agent != self.agent_version:
            self._closed = True
            self.transport.stop()
            raise RemoteError(f"the agent on {self.name} is version {agent}, this pytrace "
                              f"ships {self.agent_version}: a mismatched agent is refused")

    # ---- requests ------------------------------------------------------------------------
    def _new_handle(self) -> int:
        self._next_handle += 1
        return self._next_handle

    def _defer(self, method: str, *args, returns_handle: bool = False, **kwargs):
        handle = self._new_handle() if returns_handle else None
        self._queue.append([method, list(args), kwargs, handle])
        return handle

    def _call(self, method: str, *args, **kwargs):
        """Send the queued calls and this one; wait for this one's result."""
        with self.conn.lock:
            calls, self._queue = self._queue + [[method, list(args), kwargs, None]], []
            return self._exchange(calls)[-1]

    def _exchange(self, calls: list[list]):
        return self._finish(self._send(calls))

    def _send(self, calls: list[list]) -> int:
        """Send one request; its id. Before the HELLO it goes all the same (the
        agent reads it once started): the first request costs no round trip
        beyond the handshake."""
        if self._closed:
            raise RemoteError(f"the session with {self.name} is closed")
        rid, self._next_id = self._next_id, self._next_id + 1
        if _TRACE:
            _trace(f"request {rid}: " + " ".join(
                c[0] + ("(" + str(c[1][0])[:60] + ")" if c[1] else "") for c in calls))
        self._explainers[rid] = [self._explain.pop(id(c), None) for c in calls]
        try:
            self.conn.send(P.frame(P.CALL, P.encode({"id": rid, "calls": calls}),
                                   compress=True))
        except RemoteError:
            if self._info is None:
                self._connect()   # it ended before its HELLO: this says why
            raise
        self.round_trips += 1
        return rid

    def _finish(self, rid: int):
        """Wait for request `rid`'s results (the HELLO first, if it has not come)."""
        if self._info is None:
            self._connect()
        self._await(rid)
        kind, msg = self.conn.replies.pop(rid)
        explain = self._explainers.pop(rid, [])
        if _TRACE:
            _trace(f"reply {rid}")
        if kind == P.ERROR:
            error = rebuild_error(msg.get("error") or {}, self.name)
            index = msg.get("index")
            if isinstance(index, int) and 0 <= index < len(explain) and explain[index]:
                error = explain[index](error)
            raise error
        return msg.get("results") or [None]

    def _await(self, rid: int) -> None:
        """Wait for the answer to request `rid`. Once the user asked the run to
        end, a target that stays silent STALL_GRACE_S longer is given up on:
        the transport is killed (the kernel frees what the agent held)."""
        while rid not in self.conn.replies:
            if self._interrupted_at is not None:
                # From the last answer, not the last byte: an agent flooding
                # EVENTS while it never answers is as stuck as a silent one.
                quiet_since = max(self._interrupted_at, self.conn.last_reply)
                left = quiet_since + STALL_GRACE_S - time.monotonic()
                if left <= 0:
                    self._give_up()
                self.conn.wait_readable(min(left, 0.25))
            else:
                try:
                    self.conn.wait_readable(0.25)
                except KeyboardInterrupt:   # Ctrl-C after the trace's own handler
                    self.interrupted()
                    continue
            self.conn.pump()

    def _give_up(self):
        if _TRACE:
            _trace(f"giving up on {self.name}")
        self._closed = True
        self.conn.closed = True
        self.transport.kill()
        raise RemoteError(f"the target {self.name} stopped answering (nothing for "
                          f"{STALL_GRACE_S:g} s after the interrupt): the run ends without "
                          "its final output")

    def pending(self) -> bool:
        return bool(self._queue)

    def interrupted(self) -> None:
        """The user asked the run to end (Ctrl-C, SIGTERM): from now on a
        target that does not answer ends the run after STALL_GRACE_S."""
        if self._interrupted_at is None:
            self._interrupted_at = time.monotonic()

    def sync(self):
        with self.conn.lock:
            if self._queue:
                calls, self._queue = self._queue, []
                self._exchange(calls)
            elif self._info is None and not self._closed:
                self._connect()

    # ---- facts ---------------------------------------------------------------------------
    @property
    def machine(self):
        return self.info["machine"]

    def boot_wall_ns(self):
        return self.info["boot_wall_ns"]

    def num_possible_cpus(self):
        return self.info["possible_cpus"]

    def online_cpus(self):
        return list(self.info["online_cpus"])

    def errno_text(self, errno):
        text = self.info.get("errnos", {}).get(errno)
        return text if text is not None else os.strerror(errno)

    def supports(self, feature):
        return bool(self.info.get("features", {}).get(feature, False))

    def check_privileges(self):
        """From the HELLO (it brings the agent's capabilities): now if it has
        come, else as soon as it does (the host compiles meanwhile; a compile
        error waits for it, see Session._run, so this error still comes first)."""
        self._check_privileges = True
        if self._info is not None:
            self._privileges_check()

    def _privileges_check(self):
        if "caps" not in self._info:
            return   # an agent that does not say: its first refused action will
        error = E.privileges_error(self._info["caps"], self._info["cap_last_cap"])
        if error:
            raise error

    def _immutable(self, path: str) -> bool:
        tracefs = self.info.get("tracefs") or "/sys/kernel/tracing"
        return path.startswith(IMMUTABLE_PREFIXES) or path.startswith(tracefs + "/events/")

    def read_file(self, path, max_bytes=None):
        self._take_prefetches()
        self.info   # connected: the facts of the handshake are known
        if path in self._files:
            data = self._files[path]
            return data if max_bytes is None else data[:max_bytes]
        known = self._cache.known(path)
        reply = self._call("read_file", path, max_bytes, known)
        if "data" not in reply:
            data = self._cache.get(reply["hash"])
            if data is None:   # the cache lost it meanwhile
                reply = self._call("read_file", path, max_bytes, None)
        if "data" in reply:
            data = reply["data"]
            self.fetched_bytes += len(data)
            if "hash" in reply and not path.startswith("/proc/"):
                self._cache.put(path, reply["hash"], data)
        if max_bytes is None and self._immutable(path):
            self._files[path] = data
        return data

    def prefetch(self, paths):
        """Read these files in one request (tracepoint formats). Before the
        HELLO the request goes at once and its answer is taken when a fact is
        first read, so it rides with the handshake; paths under a tracefs
        mount point that the HELLO says is not the target's are dropped."""
        wanted = list(dict.fromkeys(p for p in paths if p not in self._files
                                    and self._exists.get(p) is not False
                                    and p not in self._asked))
        if self._info is not None:
            wanted = [p for p in wanted if not _other_tracefs(p, self._info.get("tracefs"))]
        if not wanted:
            return
        with self.conn.lock:
            calls, self._queue = self._queue + [["read_files", [wanted], {}, None]], []
            self._prefetching.append((self._send(calls), wanted))
            self._asked.update(wanted)
        if self._info is not None:
            self._take_prefetches()

    def _take_prefetches(self) -> None:
        """Take in the answers of the prefetches sent so far."""
        while self._prefetching:
            rid, wanted = self._prefetching.pop(0)
            self._asked.difference_update(wanted)
            for path, got in zip(wanted, self._finish(rid)[-1]):
                if "data" in got:
                    self._files[path] = got["data"]
                    self.fetched_bytes += len(got["data"])
                    self._exists[path] = True
                else:
                    self._exists[path] = False

    def list_dir(self, path):
        self._take_prefetches()
        self.info
        if path in self._dirs:
            return list(self._dirs[path])
        tracefs = self.info.get("tracefs")
        events = (tracefs or "/sys/kernel/tracing") + "/events"
        if tracefs and (path.rstrip("/") == events or
                        os.path.dirname(path.rstrip("/")) == events):
            self._load_tracefs_tree(events)
            if path.rstrip("/") in self._dirs:
                return list(self._dirs[path.rstrip("/")])
            raise FileNotFoundError(2, "No such file or directory", path)
        names = self._call("list_dir", path)
        if self._immutable(path + "/"):
            self._dirs[path] = names
        return names

    def _load_tracefs_tree(self, root: str) -> None:
        """The categories and events of tracefs in one request (a wildcard
        tracepoint walks them: one round trip per directory otherwise)."""
        if root in self._dirs:
            return
        tree = self._call("tracefs_tree", root)
        self._dirs[root] = sorted(tree["entries"])
        for cat, events in tree["categories"].items():
            self._exists[f"{root}/{cat}/enable"] = True
            self._dirs[f"{root}/{cat}"] = sorted(events["entries"])
            for ev in events["events"]:
                self._exists[f"{root}/{cat}/{ev}/format"] = True

    def path_exists(self, path):
        self._take_prefetches()
        self.info
        if path in self._exists:
            return self._exists[path]
        if path in self._files:
            return True
        tracefs = self.info.get("tracefs")
        if tracefs and (tracefs + "/events") in self._dirs and path.startswith(tracefs + "/"):
            return False   # the whole tree is known: what it lacks does not exist
        if self._immutable(path) and path.endswith("/format"):
            # The caller reads it next: fetch it now instead of asking twice.
            try:
                self.read_file(path)
                self._exists[path] = True
            except FileNotFoundError:
                self._exists[path] = False
            return self._exists[path]
        found = bool(self._call("path_exists", path))
        if self._immutable(path):
            self._exists[path] = found
        return found

    def cgroup_id(self, path):
        return self._call("cgroup_id", path)

    # ---- processes -----------------------------------------------------------------------
    def run_command(self, command):
        return self._call("run_command", command)

    def start_command(self, command):
        return RemoteProcess(self, self._call("start_command", command), child=True)

    def watch_process(self, pid):
        return RemoteProcess(self, self._call("watch_process", pid), child=False)

    # ---- maps and programs ---------------------------------------------------------------
    def map_create(self, map_type, key_size, value_size, max_entries, flags=0, name=""):
        return self._call("map_create", map_type, key_size, value_size, max_entries, flags, name)

    def map_lookup(self, fd, key, value_size):
        return self._call("map_lookup", fd, key, value_size)

    def map_update(self, fd, key, value, flags=0):
        self._defer("map_update", fd, key, value, flags)

    def map_delete(self, fd, key):
        return self._call("map_delete", fd, key)

    def map_get_next_key(self, fd, key, key_size):
        return self._call("map_get_next_key", fd, key, key_size)

    def map_lookup_batch(self, fd, key_size, value_size, max_entries, delete=False):
        rows = self._call("map_lookup_batch", fd, key_size, value_size, max_entries, delete)
        return [(k, v) for k, v in rows]

    def map_lookup_batches(self, requests):
        replies = self._call("map_lookup_batches", [list(r) for r in requests])
        return [[(k, v) for k, v in rows] for rows in replies]

    def map_delete_batch(self, fd, keys, key_size):
        return self._call("map_delete_batch", fd, keys, key_size)

    def prog_load(self, prog_type, insns, license="GPL", **kwargs):
        fd, log = self._call("prog_load", prog_type, insns, license, **kwargs)
        return fd, log

    def btf_load(self, blob):
        return self._call("btf_load", blob)

    def load_all(self, maps, programs):
        map_fds, prog_fds = self._call("load_all", maps, programs)
        return list(map_fds), list(prog_fds)

    def probe_loads(self, requests):
        return self._call("probe_loads", requests)

    def load_all_later(self, maps, programs, explain):
        """Sent with the next request that waits (BEGIN's run, the attaches):
        host-chosen handles stand for the fds, and a failure is raised there,
        through `explain`, naming its map or program."""
        handles = [[self._new_handle() for _ in maps], [self._new_handle() for _ in programs]]
        call = ["load_all", [maps, programs], {}, handles]
        self._queue.append(call)
        self._explain[id(call)] = explain
        return list(handles[0]), list(handles[1])

    def prog_test_run(self, fd, ctx=b""):
        return self._call("prog_test_run", fd, ctx)

    def prog_info(self, fd):
        return self._call("prog_info", fd)

    # ---- attach: sent with the next request that waits (Attachments syncs) --------------
    def attach_tracepoint(self, prog_fd, category, event, cookie=0):
        return self._defer("attach_tracepoint", prog_fd, category, event, cookie,
                           returns_handle=True)

    def attach_raw_tracepoint(self, prog_fd, name):
        return self._defer("attach_raw_tracepoint", prog_fd, name, returns_handle=True)

    def attach_kprobe(self, prog_fd, func, offset=0, retprobe=False, cookie=0):
        return self._defer("attach_kprobe", prog_fd, func, offset, retprobe, cookie,
                           returns_handle=True)

    def attach_uprobe(self, prog_fd, path, offset, retprobe=False, pid=-1, ref_ctr_offset=0):
        return self._defer("attach_uprobe", prog_fd, path, offset, retprobe, pid,
                           ref_ctr_offset, returns_handle=True)

    def attach_uprobe_multi(self, prog_fd, path, offsets, retprobe=False, pid=-1,
                            ref_ctr_offsets=None, cookies=None):
        return self._defer("attach_uprobe_multi", prog_fd, path, list(offsets), retprobe, pid,
                           ref_ctr_offsets, cookies, returns_handle=True)

    def attach_perf_event(self, prog_fd, ev_type, config, *, sample_period=0, sample_freq=0,
                          pid=-1, cpu=0):
        return self._defer("attach_perf_event", prog_fd, ev_type, config,
                           sample_period=sample_period, sample_freq=sample_freq, pid=pid,
                           cpu=cpu, returns_handle=True)

    def attach_tracing(self, prog_fd):
        return self._defer("attach_tracing", prog_fd, returns_handle=True)

    def attach_watchpoint(self, prog_fd, addr, length, mode, pid=-1, cpu=0):
        return self._defer("attach_watchpoint", prog_fd, addr, length, mode, pid, cpu,
                           returns_handle=True)

    def detach(self, handle):
        self._defer("detach", handle)

    def detach_many(self, handles):
        self._defer("detach_many", list(handles))

    # ---- events and the end ----------------------------------------------------------------
    def ring_buffer(self, map_fd):
        handle = self._new_handle()
        self._defer("ring_start", map_fd, handle)
        return RemoteRingReader(self, handle)

    def close(self, fd):
        if not self._closed:
            self._defer("close", fd)

    def close_all(self, background=False):
        """Send what is queued and close_all without waiting for the answer: the
        agent does it, then sees its stdin close and exits (shutdown waits)."""
        if self._closed:
            return
        if self._info is None and not self._queue:
            self.shutdown(wait=not background)
            return
        try:
            with self.conn.lock:
                calls, self._queue = self._queue + [["close_all", [], {}, None]], []
                if not self.conn.closed:
                    self.conn.send(P.frame(P.CALL, P.encode({"id": 0, "calls": calls})))
        except RemoteError:
            pass
        finally:
            self.shutdown(wait=not background)

    def shutdown(self, wait: bool = True) -> None:
        """End the session: the agent exits when its stdin closes, and the kernel
        frees what it held. wait=False: do not wait for that (the CLI's process
        is about to exit; the agent finishes its slow closes on its own)."""
        if os.environ.get("PYTRACE_REMOTE_STATS") and not self._closed:
            import sys
            sys.stderr.write(f"pytrace: {self.round_trips} round trips to {self.name}, "
                             f"{self.fetched_bytes} bytes of files fetched\n")
        self._closed = True
        if wait:
            self.transport.stop()
        else:
            self.transport.proc_stdin_close()


class RemoteRingReader:
    """Records of one ring buffer, as the agent streams them."""

    def __init__(self, target: RemoteTarget, handle: int):
        self.target = target
        self.handle = handle
        self.fd = handle

    def read_blob(self) -> bytes:
        conn = self.target.conn
        if not conn.closed:
            conn.pump()
        blobs = conn.events.pop(self.handle, None)
        return b"".join(blobs) if blobs else b""

    def ask_rest(self) -> None:
        """The probes are detached: the agent reads the ring to its end and sends
        it before its next reply (no round trip of its own)."""
        if not self.target._closed:
            self.target._defer("ring_read_rest", self.handle)

    def read_rest(self) -> bytes:
        """What ask_rest brought, and anything else received for this ring."""
        return self.read_blob()

    def poll(self, timeout_ms: int = -1) -> list[bytes]:
        from pytrace.kernel.ringbuf import split_records
        return split_records(self.read_blob())

    def fileno(self) -> int:
        return self.target.conn.in_fd

    def close(self) -> None:
        if not self.target._closed:
            self.target._defer("ring_stop", self.handle)


class RemoteProcess:
    """The `-c` command or `-p` process on the target."""

    def __init__(self, target: RemoteTarget, pid: int, child: bool):
        self.target = target
        self.pid = pid
        self.child = child
        self._fd = os.dup(target.conn.in_fd)   # its own fd: the event loop's epoll
        self.status = None

    def fileno(self) -> int:
        return self._fd

    def release(self) -> None:
        """Sent with the next request (run_trace syncs right after attaching)."""
        self.target._defer("release", self.pid)

    def exited(self) -> bool:
        conn = self.target.conn
        if not conn.closed:
            conn.pump()
        return self.pid in conn.exited

    def stop(self) -> None:
        """End it on the target if it still runs; goes with the session's last request."""
        if not self.target._closed:
            self.target._defer("stop", self.pid)
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            if not self.child and not self.target._closed and not self.target.conn.closed:
                self.target._defer("unwatch", self.pid)
            os.close(self._fd)
            self._fd = -1


class FactCache:
    """Big facts (BTF, binaries, kallsyms) on this machine, by content hash.

    index.json maps "kernel release / path" to the hash last seen there; the
    agent hashes the file and sends only the hash when it matches (the content
    is then read here). Any failure to read or write the cache just means a
    fetch."""

    def __init__(self, root: str, release: str):
        self.dir = os.path.join(root, "remote")
        self.release = release
        self._index: dict | None = None

    def _load(self) -> dict:
        if self._index is None:
            try:
                with open(os.path.join(self.dir, "index.json"), encoding="utf-8") as f:
                    self._index = json.load(f)
            except (OSError, ValueError):
                self._index = {}
        return self._index

    def _blob(self, digest) -> str | None:
        """The cache file of a digest; None unless it is a SHA-256 in hex (the
        agent names it, and a name must not reach outside the cache)."""
        if isinstance(digest, str) and len(digest) == 64 and \
                all(c in "0123456789abcdef" for c in digest):
            return os.path.join(self.dir, digest)
        return None

    def known(self, path: str) -> str | None:
        digest = self._load().get(f"{self.release}\0{path}")
        blob = self._blob(digest)
        if blob and os.path.exists(blob):
            return digest
        return None

    def get(self, digest: str) -> bytes | None:
        blob = self._blob(digest)
        if blob is None:
            return None
        try:
            with open(blob, "rb") as f:
                return f.read()
        except OSError:
            return None

    def put(self, path: str, digest: str, data: bytes) -> None:
        import hashlib
        blob = self._blob(digest)
        # Only what the bytes really hash to is kept under their name.
        if blob is None or hashlib.sha256(data).hexdigest() != digest:
            return
        index = self._load()
        try:
            os.makedirs(self.dir, exist_ok=True)
            if not os.path.exists(blob):
                _write_atomically(blob, data)
            index[f"{self.release}\0{path}"] = digest
            _write_atomically(os.path.join(self.dir, "index.json"),
                              json.dumps(index).encode())
        except OSError:
            pass


def _write_atomically(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
