"""`pytrace -d ast` prints the tree and exits 0, or prints one bpftrace-shaped error and exits 1."""

import subprocess
import sys

from pytrace.cli import main


def test_dump_of_a_one_liner(capsys):
    code = main(["-d", "ast", "-e", 'kprobe:f /pid == 1/ { @x[comm] = count(); }'])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert out == ("Program\n"
                   " kprobe:f\n"
                   "  pred\n"
                   "   ==\n"
                   "    builtin: pid\n"
                   "    int: 1\n"
                   "  =\n"
                   "   map: @x\n"
                   "    builtin: comm\n"
                   "   call: count\n")


def test_dump_of_a_script_file(tmp_path, capsys):
    script = tmp_path / "t.bt"
    script.write_text("#!/usr/bin/env bpftrace\nBEGIN\n{\n\t$x = (uint8)1;\n}\n")
    assert main(["-d", "ast", str(script)]) == 0
    out = capsys.readouterr().out
    assert out == "Program\n BEGIN\n  =\n   variable: $x\n   (uint8)\n    int: 1\n"


def test_syntax_error_exit_status_and_message(tmp_path, capsys):
    script = tmp_path / "bad.bt"
    script.write_text("BEGIN {\n  @x = 1 +;\n}\n")
    assert main(["-d", "ast", str(script)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"{script}:2:11-12: ERROR: syntax error, unexpected ;\n"
                   "  @x = 1 +;\n"
                   "          ~\n")


def test_fresh_process_parses_without_loading_llvm_or_elf():
    code = ("import sys; from pytrace.cli import main; rc = main(['-d', 'ast', '-e', 'BEGIN { }']);"
            "bad = [m for m in ('llvmlite', 'elftools') if m in sys.modules];"
            "print(bad); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("[]\n")
