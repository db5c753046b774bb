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

import argparse
import os
import queue
import subprocess
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-ms", type=float, default=0)
    parser.add_argument("--corrupt-at", type=int, default=-1)
    parser.add_argument("--kill-after-bytes", type=int, default=-1)
    parser.add_argument("--stall-after-bytes", type=int, default=-1)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    opts = parser.parse_args()
    command = opts.command[1:] if opts.command[:1] == ["--"] else opts.command
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    delay = opts.delay_ms / 1000
    to_child = threading.Thread(target=pump, args=(0, child.stdin.fileno(), delay),
                                kwargs={"on_end": child.stdin.close}, daemon=True)
    to_child.start()
    pump(child.stdout.fileno(), 1, delay, opts.corrupt_at, opts.kill_after_bytes,
         stall_after=opts.stall_after_bytes)
    sys.exit(child.wait())


if __name__ == "__main__":
    main()
