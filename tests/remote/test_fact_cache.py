"""The host's cache of big facts from remote targets (BTF, binaries, kallsyms):
files are named by their SHA-256 only, and only bytes that hash to it are kept."""

import hashlib

from pytrace.target.remote import FactCache


def test_a_digest_that_is_not_a_sha256_names_no_file(tmp_path):
    cache = FactCache(str(tmp_path), "6.1.0")
    cache.put("/sys/kernel/btf/vmlinux", "../../escaped", b"data")
    assert not (tmp_path / "escaped").exists()
    assert list(tmp_path.rglob("*")) == []
    assert cache.get("../../etc/passwd") is None


def test_bytes_are_kept_only_under_their_own_hash(tmp_path):
    cache = FactCache(str(tmp_path), "6.1.0")
    data = b"BTF bytes"
    right = hashlib.sha256(data).hexdigest()
    cache.put("/sys/kernel/btf/vmlinux", hashlib.sha256(b"other").hexdigest(), data)
    assert cache.known("/sys/kernel/btf/vmlinux") is None
    cache.put("/sys/kernel/btf/vmlinux", right, data)
    assert cache.known("/sys/kernel/btf/vmlinux") == right
    assert cache.get(right) == data
