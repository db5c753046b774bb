"""The stand-in `adb` (bin/adb) for tests of `--target adb[:serial]`.

No Android device can exist on the machines the tests run on, so this fake,
which runs the "device" shell locally, is the only way to exercise the adb
transport; tests using it say so. See bin/adb for what it simulates.

    adb = FakeAdb(tmp_path / "adb.log", devices=["emulator-5554", "R58M"], shell_uid=2000)
    subprocess.run([... "--target", "adb:R58M"], env=adb.environ())
    adb.entries()   # [("adb", "R58M", "sh -c ..."), ("su", "-c ..."), ...]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

BIN_DIR = Path(__file__).resolve().parent / "bin"


@dataclass
class FakeAdb:
    log: Path
    devices: list[str] = field(default_factory=lambda: ["emulator-5554"])
    # None: `adb shell` is root (as after `adb root`); else that uid until su.
    shell_uid: int | None = None
    has_su: bool = True

    def environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose `adb` is the stand-in, configured as this object says."""
        env = dict(os.environ if base is None else base)
        for name in ("ANDROID_SERIAL", "FAKE_ADB_SHELL_UID", "FAKE_ADB_NO_SU", "FAKE_ADB_ROOT"):
            env.pop(name, None)
        env["PATH"] = f"{BIN_DIR}:{env.get('PATH', '/usr/bin:/bin')}"
        env["FAKE_ADB_DEVICES"] = " ".join(self.devices)
        env["FAKE_ADB_LOG"] = str(self.log)
        if self.shell_uid is not None:
            env["FAKE_ADB_SHELL_UID"] = str(self.shell_uid)
        if not self.has_su:
            env["FAKE_ADB_NO_SU"] = "1"
        return env

    def entries(self) -> list[tuple[str, ...]]:
        """What was run so far: ("adb", serial, command) and ("su", args) records."""
        if not self.log.exists():
            return []
        return [tuple(line.split("\t")) for line in self.log.read_text().splitlines()]

    def serials_used(self) -> list[str]:
        return [e[1] for e in self.entries() if e[0] == "adb"]

    def su_calls(self) -> list[str]:
        return [e[1] for e in self.entries() if e[0] == "su"]
