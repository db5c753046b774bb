"""The agent: what runs on a traced machine for a RemoteTarget.

A loop around the syscall half of the kernel layer (pytrace.kernel.{actions,
files, process} and what they import): it reads CALL frames on stdin, does
exactly the methods they name (ALLOWED; nothing else), and answers on stdout.
Ring buffers it was asked to stream are read whenever they have records and
sent as EVENTS frames without being asked, so the host makes no request per
event; the `-c`/`-p` processes' ends come as EXITED frames after the records
before them.

Stdlib only, importing nothing of pytrace but the agent's modules, and runnable
by Python 3.6 (pytrace.remote.bundle ships it with annotations stripped). It
opens no socket and writes no file; when stdin closes (the host ended or the
connection dropped) it exits, and the kernel frees every program, map, link
and probe it held, as it does for any process.
"""

from __future__ import annotations

import mmap
import os
import select
import sys

from pytrace.kernel import bpf, perf, process
from pytrace.kernel.actions import KernelActions
from pytrace.kernel.errors import own_cap_last_cap, own_capabilities
from pytrace.kernel.files import LocalFiles
from pytrace.kernel.ringbuf import RingBufferReader
from pytrace.remote import protocol as P

AGENT_VERSION = "dev"      # the bundle sets the hash of the shipped sources
BTF_PATHS = ("/sys/kernel/btf",)
HASH_MIN = 64 * 1024       # files this big are named by hash (the host may have them)
IDLE_WAKEUP_S = 0.1        # ring records come without wakeups (see runtime.loop)

# The methods a CALL may name, and those whose first argument is a handle
# (an fd, or a number the host chose for the result of an earlier call).
ALLOWED = frozenset("""
    read_file read_files list_dir path_exists cgroup_id num_possible_cpus online_cpus
    supports boot_wall_ns run_command start_command release stop watch_process unwatch
    map_create map_lookup map_update map_delete map_get_next_key map_lookup_batch
    map_delete_batch prog_load btf_load prog_test_run prog_info load_all
    attach_tracepoint attach_raw_tracepoint attach_kprobe attach_uprobe
    attach_uprobe_multi attach_perf_event attach_tracing attach_watchpoint
    detach detach_many close close_all ring_start ring_stop ping tracefs_tree
    map_lookup_batches probe_loads ring_read_rest
""".split())
HANDLE_FIRST = frozenset("""
    map_lookup map_update map_delete map_get_next_key map_lookup_batch map_delete_batch
    prog_test_run prog_info attach_tracepoint attach_raw_tracepoint attach_kprobe
    attach_uprobe attach_uprobe_multi attach_perf_event attach_tracing attach_watchpoint
    detach close ring_start ring_stop
""".split())


class TargetKernel(LocalFiles, KernelActions):
    """Facts and actions of this machine, as LocalTarget has them."""

    def __init__(self, hide_btf=False):
        KernelActions.__init__(self)
        self.hide_btf = hide_btf   # a test hook: behave as a kernel without BTF

    def _hidden(self, path):
        return self.hide_btf and any(path == p or path.startswith(p + "/") for p in BTF_PATHS)

    def read_file(self, path, max_bytes=None):
        if self._hidden(path):
            raise FileNotFoundError(2, "No such file or directory", path)
        return LocalFiles.read_file(self, path, max_bytes)

    def list_dir(self, path):
        if self._hidden(path):
            raise FileNotFoundError(2, "No such file or directory", path)
        return LocalFiles.list_dir(self, path)

    def path_exists(self, path):
        return not self._hidden(path) and LocalFiles.path_exists(self, path)


class Agent:
    def __init__(self, in_fd, out_fd, config):
        self.in_fd, self.out_fd = in_fd, out_fd
        self.kernel = TargetKernel(hide_btf=bool(config.get("hide_btf")))
        self.alias = {}        # host-chosen handle -> fd (calls the host did not wait for)
        self.rings = {}        # host map handle -> RingBufferReader
        self.processes = {}    # pid -> ChildCommand / WatchedProcess
        self.reader = P.FrameReader()
        self.epoll = select.epoll()
        self.epoll.register(in_fd, select.EPOLLIN)
        self.watch_fds = {}    # pidfd -> pid
        self.output_fds = {}   # read end of a -c command's stdout pipe -> its pid

    # ---- output -------------------------------------------------------------------------
    def send(self, kind, payload, compress=False):
        data = memoryview(P.frame(kind, payload, compress))
        while data:
            n = os.write(self.out_fd, data)
            data = data[n:]

    def hello(self):
        k = self.kernel
        info = {
            "agent": AGENT_VERSION, "protocol": P.PROTOCOL_VERSION,
            "release": os.uname().release, "machine": process.machine(),
            "page_size": mmap.PAGESIZE, "possible_cpus": k.num_possible_cpus(),
            "online_cpus": k.online_cpus(),
            "btf": k.path_exists("/sys/kernel/btf/vmlinux"),
            "features": k.all_features(),
            "pid": os.getpid(), "uid": os.geteuid(),
            "caps": own_capabilities(), "cap_last_cap": own_cap_last_cap(),
            "python": "{}.{}.{}".format(*sys.version_info[:3]),
            "boot_wall_ns": process.boot_wall_ns(),
            "tracefs": perf.tracefs_root(),
            # strerror() texts of this C library (strerror(), -k), for errnos 1..133.
            "errnos": {n: os.strerror(n) for n in range(1, 134)},
        }
        self.send(P.HELLO, P.encode(info))

    # ---- the loop ----------------------------------------------------------------------
    def run(self):
        while True:
            timeout = IDLE_WAKEUP_S if self.rings else -1
            for fd, _ in self.epoll.poll(timeout):
                if fd == self.in_fd:
                    data = os.read(self.in_fd, 1 << 20)
                    if not data:
                        return   # the host is gone
                    self.reader.feed(data)
                    for kind, payload in self.reader.frames():
                        if kind != P.CALL:
                            raise P.ProtocolError("unexpected frame kind {}".format(kind))
                        self.on_call(P.decode(payload))
                elif fd in self.output_fds:
                    self.forward_output(fd)
                elif fd in self.watch_fds:
                    self.on_exit(fd)
            self.flush_rings()

    def flush_rings(self):
        """One read per ring, then back to the loop: a probe that fires on the
        agent's own EVENTS writes keeps the ring from ever emptying, and the
        host's requests (detach, map reads) must still be served."""
        for handle, ring in list(self.rings.items()):
            blob = ring.read_blob()
            if blob:
                self.send(P.EVENTS, P.events_payload(handle, blob))

    def forward_output(self, fd, until_empty=False):
        """What the -c command wrote to its stdout goes to the host's stdout
        (our own stdout is the protocol's). EOF closes the pipe."""
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                return
            if not data:
                self.epoll.unregister(fd)
                del self.output_fds[fd]
                os.close(fd)
                return
            self.send(P.OUTPUT, data)
            if not until_empty:
                return

    def on_exit(self, pidfd):
        pid = self.watch_fds.pop(pidfd)
        self.epoll.unregister(pidfd)
        for fd in [fd for fd, owner in self.output_fds.items() if owner == pid]:
            self.forward_output(fd, until_empty=True)   # its output before its end
        self.flush_rings()   # what the process did comes before its end
        self.send(P.EXITED, P.encode({"pid": pid}))

    def on_call(self, request):
        results = []
        for index, (method, args, kwargs, handle) in enumerate(request["calls"]):
            try:
                result = self.dispatch(method, args, kwargs)
            except Exception as e:   # noqa: BLE001 - every failure goes to the host
                self.flush_rings()
                self.send(P.ERROR, P.encode({"id": request["id"], "index": index,
                                             "error": P.error_value(e)}))
                return
            if handle is not None:
                self._alias(handle, result)
            results.append(result)
        # Records a call made (BEGIN, END) reach the host before its reply.
        self.flush_rings()
        self.send(P.REPLY, P.encode({"id": request["id"], "results": results}), compress=True)

    def _alias(self, handle, result):
        """Remember the host's handle for a result: a list of handles (load_all's
        [[map handles], [program handles]]) names the items of a list result."""
        if isinstance(handle, list):
            for h, r in zip(handle, result):
                self._alias(h, r)
        else:
            self.alias[handle] = result

    # ---- methods --------------------------------------------------------------------------
    def dispatch(self, method, args, kwargs):
        if method not in ALLOWED:
            raise P.ProtocolError("the agent has no method {!r}".format(method))
        args = list(args)
        if method in HANDLE_FIRST:
            args[0] = self.alias.get(args[0], args[0])
        if "prog_btf_fd" in kwargs:
            kwargs["prog_btf_fd"] = self.alias.get(kwargs["prog_btf_fd"], kwargs["prog_btf_fd"])
        own = getattr(self, "do_" + method, None)
        if own is not None:
            return own(*args, **kwargs)
        result = getattr(self.kernel, method)(*args, **kwargs)
        return list(result) if isinstance(result, tuple) else result

    def do_ping(self):
        return None

    def do_read_file(self, path, max_bytes=None, known=None):
        """{"data": bytes}; big files also carry their "hash", and only the hash
        when the host said it has that content already (`known`)."""
        data = self.kernel.read_file(path, max_bytes)
        if len(data) < HASH_MIN:
            return {"data": data}
        import hashlib   # only for big files: off the start-up path
        digest = hashlib.sha256(data).hexdigest()
        if digest == known:
            return {"hash": digest}
        return {"hash": digest, "data": data}

    def do_read_files(self, paths, max_bytes=None):
        """Many small files at once (tracepoint formats): data or an error each."""
        out = []
        for path in paths:
            try:
                out.append({"data": self.kernel.read_file(path, max_bytes)})
            except OSError as e:
                out.append({"error": P.error_value(e)})
        return out

    def do_tracefs_tree(self, root):
        """The tracefs events tree in one answer: every category (a directory
        with an `enable` file), its entries and the events that have a format."""
        entries = self.kernel.list_dir(root)
        categories = {}
        for cat in entries:
            where = root + "/" + cat
            if not os.path.exists(where + "/enable"):
                continue
            names = os.listdir(where)
            categories[cat] = {"entries": names, "events": [
                e for e in names if os.path.exists(where + "/" + e + "/format")]}
        return {"entries": entries, "categories": categories}

    def do_map_lookup_batch(self, fd, key_size, value_size, max_entries, delete=False):
        return [[k, v] for k, v in self.kernel.map_lookup_batch(fd, key_size, value_size,
                                                                max_entries, delete)]

    def do_map_lookup_batches(self, requests):
        return [self.do_map_lookup_batch(self.alias.get(r[0], r[0]), *r[1:]) for r in requests]

    def do_detach_many(self, handles):
        self.kernel.detach_many([self.alias.get(h, h) for h in handles])

    def do_close(self, fd):
        ring = [h for h, r in self.rings.items() if r.fd == fd]
        for h in ring:
            self.do_ring_stop(h)
        self.kernel.close(fd)
        for h in [h for h, real in self.alias.items() if real == fd]:
            del self.alias[h]

    def do_boot_wall_ns(self):
        return process.boot_wall_ns()

    def do_run_command(self, command):
        return process.run_command(command)

    def do_start_command(self, command):
        read_end, write_end = os.pipe()
        try:
            child = process.ChildCommand(command, stdout_fd=write_end)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        os.set_blocking(read_end, False)
        self.output_fds[read_end] = child.pid
        self.epoll.register(read_end, select.EPOLLIN)
        return self._watch(child)

    def do_watch_process(self, pid):
        return self._watch(process.WatchedProcess(pid))

    def _watch(self, proc):
        self.processes[proc.pid] = proc
        self.watch_fds[proc.fileno()] = proc.pid
        self.epoll.register(proc.fileno(), select.EPOLLIN)
        return proc.pid

    def _unwatch(self, pid):
        proc = self.processes.pop(pid, None)
        if proc is None:
            return None
        fd = proc.fileno()
        if self.watch_fds.pop(fd, None) is not None:
            self.epoll.unregister(fd)
        return proc

    def do_release(self, pid):
        self.processes[pid].release()

    def do_stop(self, pid):
        proc = self._unwatch(pid)
        if proc is not None:
            proc.stop()

    def do_unwatch(self, pid):
        proc = self._unwatch(pid)
        if proc is not None:
            proc.close()

    def do_ring_start(self, map_fd, handle):
        """Stream this ring buffer map's records as EVENTS frames tagged `handle`."""
        ring = RingBufferReader(map_fd)
        self.rings[handle] = ring
        self.epoll.register(ring.wakeup_fd, select.EPOLLIN | select.EPOLLET)

    def do_ring_read_rest(self, handle):
        """Send what is left in a ring whose probes are detached, all of it,
        before the reply (flush_rings reads once and may stop early)."""
        ring = self.rings.get(handle)
        if ring is not None:
            blob = ring.read_rest()
            if blob:
                self.send(P.EVENTS, P.events_payload(handle, blob))

    def do_ring_stop(self, handle):
        ring = self.rings.pop(handle, None)
        if ring is not None:
            try:
                self.epoll.unregister(ring.wakeup_fd)
            except OSError:
                pass
            ring.close()

    def shutdown(self):
        for pid in list(self.processes):
            try:
                self.do_stop(pid)
            except Exception:   # noqa: BLE001 - exiting anyway
                pass
        self.kernel.close_all()


def main(config=None):
    """Run the agent on this process's stdin/stdout until stdin closes."""
    config = config or {}
    # The protocol keeps the original stdin/stdout on fds of its own; fds 0 and 1
    # become /dev/null and stderr, so a stray print or a `-c` command's output
    # can never corrupt the stream.
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    agent = Agent(in_fd, out_fd, config)
    code = 0
    try:
        agent.hello()
        agent.run()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    except P.ProtocolError as e:
        sys.stderr.write("pytrace agent: {}\n".format(e))
        code = 2
    except Exception as e:   # noqa: BLE001 - one line for the host, not a traceback
        sys.stderr.write("pytrace agent: internal error: {}: {}\n".format(type(e).__name__, e))
        code = 2
    finally:
        agent.shutdown()
    os._exit(code)


# Used by `python3 -m pytrace.remote.agent` (a local agent, for debugging).
if __name__ == "__main__":
    main()
