"""The TCP tools and the TLS tools under loopback workloads: each connection's
own pid, ports and byte counts must appear with the right values.

Drops and retransmits are made without netem (not built into every kernel):
a classic socket filter that keeps nothing, attached to the receiving socket
for half a second, makes TCP drop the segments on receive (drop reason
SOCKET_FILTER) and the sender retransmit them until it is removed."""

import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.tools.harness import ToolRun
from tests.tools.tools2_workloads import PYTHON_COMM

# A client and a server in one process on the loopback address argv[1]: the
# client sends 300000 bytes, the server answers 5000 and closes. Prints the
# pid and ports.
TRANSFER = """
import os, socket, sys, threading, time
host = sys.argv[1]
srv = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
srv.bind((host, 0)); srv.listen(8)
def serve():
    conn, _ = srv.accept()
    got = 0
    while got < 300000:
        got += len(conn.recv(65536))
    conn.sendall(b"y" * 5000); conn.close()
t = threading.Thread(target=serve); t.start()
cl = socket.create_connection(srv.getsockname()[:2])
ports = cl.getsockname()[1], srv.getsockname()[1]
cl.sendall(b"x" * 300000)
while cl.recv(65536):
    pass
cl.close(); t.join()
print(os.getpid(), *ports)
"""

# An established connection whose receiving end drops everything for 0.5 s.
DROPPED = """
import ctypes, os, socket, time
SO_ATTACH_FILTER, SO_DETACH_FILTER = 26, 27
class Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8),
                ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(Insn))]
keep_nothing = (Insn * 1)(Insn(0x06, 0, 0, 0))  # BPF_RET|BPF_K 0
prog = Prog(1, keep_nothing)
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cl = socket.create_connection(srv.getsockname())
conn, _ = srv.accept()
conn.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                ctypes.string_at(ctypes.addressof(prog), ctypes.sizeof(prog)))
cl.send(b"dropped, then retransmitted")
time.sleep(0.5)
conn.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
assert conn.recv(100) == b"dropped, then retransmitted"
print(os.getpid(), cl.getsockname()[1], srv.getsockname()[1])
"""


def run_python(code: str, *args: str) -> list[int]:
    """Run a workload to its end; the integers it printed last."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [int(x) for x in done.stdout.split()]


LOOPBACKS = pytest.mark.parametrize("host", ["127.0.0.1", "::1"])


# A connect() refused by a port nobody listens on. Prints the pid and ports.
REFUSED = """
import os, socket, sys
host = sys.argv[1]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
closed = socket.socket(family); closed.bind((host, 0))
port = closed.getsockname()[1]; closed.close()
cl = socket.socket(family)
try:
    cl.connect((host, port))
except ConnectionRefusedError:
    print(os.getpid(), cl.getsockname()[1], port)
"""


@LOOPBACKS
def test_tcpconnect_shows_the_connecting_process_and_both_ends(host):
    with ToolRun("tcpconnect") as run:
        pid, client_port, server_port = run_python(TRANSFER, host)
        refused_pid, _, closed_port = run_python(REFUSED, host)
    rows = [r for r in run.rows() if r[1] == str(pid)]
    assert len(rows) == 1, run.output
    _, _, comm, saddr, sport, daddr, dport = rows[0]
    assert (comm, saddr, sport, daddr, dport) == (
        PYTHON_COMM, host, str(client_port), host, str(server_port))
    # Refused connections are shown too (the socket leaves SYN_SENT for CLOSE).
    refused = [r for r in run.rows() if r[1] == str(refused_pid)]
    assert len(refused) == 1 and refused[0][5:] == [host, str(closed_port)], run.output


@LOOPBACKS
def test_tcpaccept_shows_the_accepting_process_and_both_ends(host):
    with ToolRun("tcpaccept") as run:
        pid, client_port, server_port = run_python(TRANSFER, host)
    rows = [r for r in run.rows(8) if r[1] == str(pid)]
    assert len(rows) == 1, run.output
    _, _, comm, raddr, rport, laddr, lport, backlog = rows[0]
    assert (comm, raddr, rport, laddr, lport) == (
        PYTHON_COMM, host, str(client_port), host, str(server_port))
    # One connection waiting when it was accepted; listen(8) asked for 8.
    assert backlog == "1/8"


@LOOPBACKS
def test_tcplife_shows_both_ends_with_their_bytes_and_lifespan(host):
    with ToolRun("tcplife") as run:
        pid, client_port, server_port = run_python(TRANSFER, host)
    rows = {(r[3], r[5]): r for r in run.rows(9) if r[0] == str(pid)}
    client = rows[(str(client_port), str(server_port))]
    server = rows[(str(server_port), str(client_port))]
    # TX_KB and RX_KB: 300000 bytes is 292 KB, 5000 bytes 4 KB.
    assert client[1:3] == [PYTHON_COMM, host] and client[4] == host, client
    assert client[6:8] == ["292", "4"], client
    assert server[6:8] == ["4", "292"], server
    assert 0 <= int(client[8]) < 10_000


def test_tcpretrans_shows_the_retransmitting_connection():
    with ToolRun("tcpretrans") as run:
        _, client_port, server_port = run_python(DROPPED)
    rows = [r for r in run.rows(5)
            if r[2:4] == [f"127.0.0.1:{client_port}", f"127.0.0.1:{server_port}"]]
    assert rows, run.output
    assert all(r[4] == "ESTABLISHED" for r in rows)
    assert re.match(r"\d\d:\d\d:\d\d$", rows[0][0])


def test_tcpdrop_shows_the_dropping_socket_and_the_kernel_stack():
    with ToolRun("tcpdrop") as run:
        _, client_port, server_port = run_python(DROPPED)
    stack = drop_line_and_stack(run.output, client_port, server_port)
    assert "tcp_v4_rcv" in stack, run.output


def drop_line_and_stack(output: str, client_port: int, server_port: int) -> str:
    """Check the drop line of this connection; its kernel stack."""
    # The drops happen at the server's socket: local end the server port.
    at = output.find(f"127.0.0.1:{server_port} ")
    assert at >= 0, output
    line = output[output.rfind("\n", 0, at) + 1:].split("\n", 1)[0]
    assert line.split()[-3:] == [f"127.0.0.1:{server_port}", f"127.0.0.1:{client_port}",
                                 "ESTABLISHED"], line
    return output[at:].split("\n\n", 2)[1]


def test_tcpdrop_knows_connections_opened_before_it_started():
    # The connection is established before the tool attaches; tcp_probe on
    # its first received segment teaches the tool its addresses.
    workload = subprocess.Popen([sys.executable, "-c", textwrap.dedent(
        DROPPED.replace("conn.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,",
                        "input(); cl.send(b'x'); conn.recv(1)\n"
                        "conn.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,"))],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        with ToolRun("tcpdrop") as run:
            out, _ = workload.communicate("go\n", timeout=30)
    finally:
        workload.kill()
        workload.wait()
    _, client_port, server_port = (int(x) for x in out.split())
    drop_line_and_stack(run.output, client_port, server_port)


def _tls_workload(tmp_path) -> str:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command for a certificate")
    import ssl  # noqa: F401 - maps the libssl python's ssl module uses
    with open("/proc/self/maps") as maps:
        if "/libssl.so" not in maps.read():
            pytest.skip("python's ssl module does not use a shared libssl")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", "/CN=localhost"], check=True, capture_output=True)
    return textwrap.dedent(f"""
        import os, socket, ssl, threading
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain({str(cert)!r}, {str(key)!r})
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
        def serve():
            conn, _ = srv.accept()
            with sctx.wrap_socket(conn, server_side=True) as s:
                s.sendall(s.recv(100).upper())
        t = threading.Thread(target=serve); t.start()
        with cctx.wrap_socket(socket.create_connection(srv.getsockname())) as c:
            c.sendall(b"hello tls")
            assert c.recv(100) == b"HELLO TLS"
        t.join()
        print(os.getpid())
    """)


def test_sslsnoop_shows_the_handshake_write_and_read_of_a_tls_client(tmp_path):
    code = _tls_workload(tmp_path)
    with ToolRun("sslsnoop") as run:
        (pid,) = run_python(code)
    # The client runs in the main thread, whose tid is the pid.
    calls = [(r[5], int(r[4])) for r in run.rows(6) if r[1] == str(pid)]
    funcs = [f for f, _ in calls]
    assert funcs[0] == "SSL_do_handshake", run.output
    assert dict(calls)["SSL_do_handshake"] == 1
    assert {"SSL_write_ex", "SSL_read_ex"} <= set(funcs), run.output
    # RET of the write and the read: 1 (the _ex forms return 1 on success).
    assert all(ret == 1 for f, ret in calls if f.endswith("_ex"))


def test_ssllatency_has_a_distribution_per_call(tmp_path):
    code = _tls_workload(tmp_path)
    with ToolRun("ssllatency") as run:
        run_python(code)
    for func in ("SSL_do_handshake", "SSL_write_ex", "SSL_read_ex"):
        assert f"@hist[{func}]: \n" in run.output, run.output
        stat = re.search(rf"^@stat\[{func}\]: count (\d+), average \d+, total \d+$",
                         run.output, re.M)
        # Both ends of the one connection make the call at least once.
        assert stat and int(stat.group(1)) >= 2, run.output
    assert "\nLatency distribution in microsecond:" in run.output
