"""A transport wrapper for tests and bench: relays stdin/stdout to a command,
optionally late or damaged.

    python3 relay.py [--delay-ms N] [--corrupt-at N] [--kill-after-bytes N]
                     [--stall-after-bytes N] -- COMMAND...

--delay-ms N        hold every chunk N ms in each direction (2N ms round trip)
--corrupt-at N      flip the bits of byte N of what COMMAND writes
--kill-after-bytes  end (as a dropped connection would) once COMMAND wrote N bytes
--stall-after-bytes once COMMAND wrote N bytes, pass nothing more on (and stay):
                    a peer that stops answering without hanging up

Used as `--target "exec:python3 relay.py --delay-ms 25 --"`: pytrace appends the
agent's command line.
"""

import os
import queue
import sys
import threading
import time


def pump(src, dst, delay_s, corrupt_at=-1, kill_after=-1, on_end=None, stall_after=-1):
    """Copy src to dst; each chunk leaves delay_s after it arrived."""
    chunks = queue.Queue()

    def reader():
        while True:
            data = os.read(src, 1 << 16)
            chunks.put((time.monotonic(), data))
            if not data:
                return

    threading.Thread(target=reader, daemon=True).start()
    seen = 0
    while True:
        arrived, data = chunks.get()
        wait = arrived + delay_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if not data:
            break
        if 0 <= corrupt_at < seen + len(data) and corrupt_at >= seen:
            buf = bytearray(data)
            buf[corrupt_at - seen] ^= 0xFF
            data = bytes(buf)
        if 0 <= kill_after <= seen + len(data):
            os.write(dst, data[:max(kill_after - seen, 0)])
            os._exit(1)
        if 0 <= stall_after <= seen + len(data):
            os.write(dst, data[:max(stall_after - seen, 0)])
            while True:
                time.sleep(3600)
        seen += len(data)
        try:
            os.write(dst, data)
        except OSError:
            break
    if on_end:
        on_end()


OPTIONS = {"--delay-ms": float, "--corrupt-at": int, "--kill-after-bytes": int,
           "--stall-after-bytes": int}


def parse_args(argv):
    """(options, command). By hand: argparse and subprocess cost the relay's
    start ~15 ms, which would count as network time in bench/remote_start.py."""
    opts = {name: -1 for name in OPTIONS}
    opts["--delay-ms"] = 0.0
    while argv and argv[0] != "--":
        name, _, value = argv[0].partition("=")
        if name not in OPTIONS:
            sys.exit(f"relay.py: unknown option {argv[0]}")
        if not value:
            argv = argv[1:]
            if not argv:
                sys.exit(f"relay.py: {name} needs a value")
            value = argv[0]
        opts[name] = OPTIONS[name](value)
        argv = argv[1:]
    return opts, argv[1:]


def spawn(command):
    """COMMAND with pipes on its stdin and stdout: (pid, its stdin, its stdout)."""
    to_child, child_in = os.pipe()
    child_out, from_child = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(to_child, 0)
        os.dup2(from_child, 1)
        for fd in (to_child, child_in, child_out, from_child):
            os.close(fd)
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    os.close(to_child)
    os.close(from_child)
    return pid, child_in, child_out


def main():
    opts, command = parse_args(sys.argv[1:])
    pid, child_in, child_out = spawn(command)
    delay = opts["--delay-ms"] / 1000
    to_child = threading.Thread(target=pump, args=(0, child_in, delay),
                                kwargs={"on_end": lambda: os.close(child_in)}, daemon=True)
    to_child.start()
    pump(child_out, 1, delay, opts["--corrupt-at"], opts["--kill-after-bytes"],
         stall_after=opts["--stall-after-bytes"])
    status = os.waitpid(pid, 0)[1]
    sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


if __name__ == "__main__":
    main()
