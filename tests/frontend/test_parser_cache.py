"""The parse tables are built once, cached on disk, and the cache is never a point of failure."""

import os
import stat
import subprocess
import sys

ONE_LINER = "from pytrace.parser import parse_text; parse_text('BEGIN { @ = 1 }'); print('ok')"


def run(env_cache: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CACHE_HOME=env_cache)
    env.pop("PYTRACE_NO_PARSER_CACHE", None)
    return subprocess.run([sys.executable, "-c", ONE_LINER], capture_output=True,
                          text=True, env=env)


def cache_files(base) -> list[str]:
    directory = os.path.join(base, "pytrace")
    return sorted(f for f in os.listdir(directory) if f.startswith("parser-"))


def test_first_run_writes_the_cache_and_later_runs_use_it(tmp_path):
    assert run(str(tmp_path)).stdout == "ok\n"
    files = cache_files(tmp_path)
    assert len(files) == 1 and files[0].endswith(".marshal")
    # A later run reads the file: it would not import lark to build tables.
    probe = ("import sys; from pytrace.parser import parse_text; parse_text('BEGIN { }');"
             "print('lark' in sys.modules)")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert done.stdout == "False\n"


def test_damaged_cache_is_rebuilt(tmp_path):
    run(str(tmp_path))
    path = os.path.join(tmp_path, "pytrace", cache_files(tmp_path)[0])
    with open(path, "wb") as f:
        f.write(b"not marshal data")
    assert run(str(tmp_path)).stdout == "ok\n"
    assert run(str(tmp_path)).stdout == "ok\n"


def test_unwritable_cache_directory_still_parses(tmp_path):
    base = tmp_path / "ro"
    base.mkdir()
    # A file where the directory should be: no cache can be written (as root too).
    (base / "pytrace").write_text("in the way")
    done = run(str(base))
    assert done.stdout == "ok\n" and done.stderr == ""
    assert not stat.S_ISDIR(os.stat(base / "pytrace").st_mode)
