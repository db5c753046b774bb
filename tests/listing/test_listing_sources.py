"""Kernel name sources on synthetic facts: what counts as a probe-able kprobe symbol."""

from pytrace.listing.kernel_names import KernelFacts, kprobe_names

KALLSYMS = b"""\
ffffffff81000000 T _stext
ffffffff81000010 t __pfx_do_one
ffffffff81000020 t do_one
ffffffff81000030 t do_one.cold
ffffffff81000040 T vfs_read
ffffffff81000050 t .E_copy
ffffffff81000060 T __SCT__tp_func_sched_switch
ffffffff81000070 t helper.isra.0
ffffffff81000080 D some_data
ffffffff81000090 W weak_func
ffffffffc0000000 t bpf_prog_6deef7357e7b4530_sd_fw_ingress\t[bpf]
ffffffffc0001000 t bpf_trampoline_6442\t[__builtin__ftrace]
ffffffffc0002000 t ext4_module_func\t[ext4]
ffffffff81000020 t do_one
"""


class FakeTarget:
    def read_file(self, path, max_bytes=None):
        assert path == "/proc/kallsyms"
        return KALLSYMS


def test_kprobe_names_keep_functions_and_drop_stubs_data_and_jit_code():
    assert kprobe_names(KernelFacts(FakeTarget())) == [
        "_stext", "do_one", "ext4_module_func", "helper.isra.0", "vfs_read", "weak_func"]
