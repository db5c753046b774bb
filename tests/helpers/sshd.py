"""A private sshd on 127.0.0.1 for remote-target tests (and the VM's guest sshd).

Everything lives in one temporary directory: the host key, the client key,
sshd_config, the client's ssh_config and known_hosts. The machine's own
/etc/ssh is never read or written (sshd gets `-f`, ssh gets `-F`). The only
thing outside the directory is /run/sshd, the privilege-separation directory
whose path is compiled into OpenSSH; it is created empty if missing.

    keys = SshKeys.generate(tmp)              # host + client key pair
    with SshServer(keys) as server:           # sshd -D on a free port
        server.ssh_command("python3", "-c", "print(1)")
        # -> ["ssh", "-F", ".../ssh_config", "pytrace-test", "python3", ...]

`ssh -F cfg ALIAS` needs no prompt: key-only login as the current user (root
in CI), the host key pinned in known_hosts under the alias (HostKeyAlias), and
BatchMode so a mistake fails at once instead of asking for a password.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.processes import die_with_parent, kill_tree

# The environment variable the remote target reads extra ssh options from.
SSH_OPTS_ENV = "PYTRACE_SSH_OPTS"


def free_tcp_port() -> int:
    """A port nothing listens on right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing_ssh_programs() -> list[str]:
    """Names of the OpenSSH programs this machine lacks (empty when all are there)."""
    wanted = {"sshd": "/usr/sbin/sshd", "ssh": "ssh", "ssh-keygen": "ssh-keygen"}
    return [name for name, prog in wanted.items()
            if not (os.access(prog, os.X_OK) if prog.startswith("/") else shutil.which(prog))]


@dataclass(frozen=True)
class SshKeys:
    """A host key and a client key pair, generated into `directory`."""
    directory: Path

    @property
    def host_key(self) -> Path:
        return self.directory / "ssh_host_ed25519_key"

    @property
    def client_key(self) -> Path:
        return self.directory / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.directory / "authorized_keys"

    @classmethod
    def generate(cls, directory: Path) -> "SshKeys":
        directory.mkdir(parents=True, exist_ok=True)
        keys = cls(directory)
        for path in (keys.host_key, keys.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pytrace-test",
                            "-f", str(path)], check=True, stdin=subprocess.DEVNULL)
        shutil.copyfile(keys.client_key.with_suffix(".pub"), keys.authorized_keys)
        keys.authorized_keys.chmod(0o600)
        return keys

    def sshd_config(self, port: int, listen: str = "127.0.0.1", pid_file: Path | None = None) -> str:
        """sshd_config text for key-only login (root included) on listen:port."""
        lines = [
            f"Port {port}",
            f"ListenAddress {listen}",
            f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            f"PidFile {pid_file or 'none'}",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            # The keys sit in a temp dir (or a read-only 9p share in the VM)
            # whose owners and modes sshd's strict checks would refuse.
            "StrictModes no",
            "UseDNS no",
            "PrintMotd no",
            "PermitUserEnvironment no",
            "LogLevel ERROR",
        ]
        return "\n".join(lines) + "\n"

    def client_config(self, alias: str, port: int, host: str = "127.0.0.1",
                      user: str | None = None) -> str:
        """One ssh_config `Host alias` block reaching host:port with the client key."""
        user = user or _current_user()
        lines = [
            f"Host {alias}",
            f"  HostName {host}",
            f"  Port {port}",
            f"  User {user}",
            f"  IdentityFile {self.client_key}",
            "  IdentitiesOnly yes",
            f"  HostKeyAlias {alias}",
            f"  UserKnownHostsFile {self.known_hosts}",
            "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes",
            "  BatchMode yes",
            "  ConnectTimeout 10",
            "  ServerAliveInterval 5",
            "  ServerAliveCountMax 3",
            "  LogLevel ERROR",
        ]
        return "\n".join(lines) + "\n"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "known_hosts"

    def trust_host_key_as(self, alias: str) -> None:
        """Pin the host key under `alias` (appended: several aliases share one key)."""
        key = self.host_key.with_suffix(".pub").read_text().split()
        with self.known_hosts.open("a") as f:
            f.write(f"{alias} {key[0]} {key[1]}\n")


def _current_user() -> str:
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


class SshEndpoint:
    """A reachable ssh server known by an alias in its own ssh_config file."""

    def __init__(self, keys: SshKeys, alias: str, port: int, host: str = "127.0.0.1"):
        self.keys = keys
        self.alias = alias
        self.port = port
        self.config_file = keys.directory / f"ssh_config.{alias}"
        self.config_file.write_text(keys.client_config(alias, port, host))
        keys.trust_host_key_as(alias)

    @property
    def ssh_options(self) -> list[str]:
        """What to put between `ssh` and the host: the private config file."""
        return ["-F", str(self.config_file)]

    @property
    def target(self) -> str:
        """The pytrace --target value for this server."""
        return f"ssh://{self.alias}"

    def environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment in which `pytrace --target ssh://ALIAS` uses this config."""
        env = dict(os.environ if base is None else base)
        env[SSH_OPTS_ENV] = shlex.join(self.ssh_options)
        return env

    def ssh_command(self, *remote_argv: str) -> list[str]:
        """argv running `remote_argv` on the server (joined by the remote shell, as ssh does)."""
        return ["ssh", *self.ssh_options, self.alias, *remote_argv]

    def shell_alias(self) -> str:
        """A line for a human: the ssh command to reach this server."""
        return shlex.join(["ssh", *self.ssh_options, self.alias])

    def run(self, *remote_argv: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.ssh_command(*remote_argv), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)

    def wait_until_ready(self, deadline_s: float, is_alive=lambda: True) -> None:
        """Retry a trivial ssh command until it succeeds; raise with ssh's error otherwise."""
        end = time.monotonic() + deadline_s
        last = ""
        while time.monotonic() < end:
            if not is_alive():
                raise RuntimeError(f"ssh server for {self.alias} exited before it accepted a login")
            try:
                done = self.run("true", timeout=max(5.0, min(30.0, end - time.monotonic())))
            except subprocess.TimeoutExpired:
                last = "ssh timed out"
                continue
            if done.returncode == 0:
                return
            last = done.stderr.strip()
            time.sleep(0.2)
        raise RuntimeError(f"ssh {self.alias} not ready after {deadline_s:.0f} s: {last}")


class SshServer(SshEndpoint):
    """sshd -D on 127.0.0.1:free port; stopped (and waited for) on close."""

    def __init__(self, keys: SshKeys, alias: str = "pytrace-test"):
        self.process: subprocess.Popen | None = None
        port = free_tcp_port()
        super().__init__(keys, alias, port)
        self.sshd_config_file = keys.directory / f"sshd_config.{alias}"
        self.sshd_config_file.write_text(keys.sshd_config(port))
        self.log_file = keys.directory / f"sshd.{alias}.log"

    def start(self, deadline_s: float = 20) -> "SshServer":
        # sshd refuses to start without its compiled-in privsep directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.sshd_config_file)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                preexec_fn=die_with_parent)
        try:
            self.wait_until_ready(deadline_s, is_alive=lambda: self.process.poll() is None)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError(f"{e}\nsshd log:\n{self.log_file.read_text(errors='replace')}")
        return self

    def stop(self) -> None:
        """Stop the listener and every session it forked (each in a session of its own)."""
        if self.process is None:
            return
        kill_tree(self.process.pid)
        self.process.wait()
        self.process = None

    def __enter__(self) -> "SshServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
