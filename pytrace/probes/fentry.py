"""fentry/fexit (kfunc/kretfunc, f/fr):[MODULE:]FUNCTION: BTF-typed kernel function probes.

The program is BPF_PROG_TYPE_TRACING with expected_attach_type
BPF_TRACE_FENTRY/FEXIT and attach_btf_id = the function's FUNC id in the
target's BTF (vmlinux, or the module's split BTF), so each function gets its
own program. Arguments arrive as u64 slots: `args.NAME`/`args->NAME` are typed
from the prototype, and fexit's `retval` is the slot after the parameters.
Wildcards run over the kernel's function symbols that BTF describes.

Some kernels refuse tracing programs outright (EPERM at load although every
capability is held); the kernel layer's error says so, naming the cause.
"""

from __future__ import annotations

from pytrace.diagnostics import PytraceError
from pytrace.kernel import btf as B
from pytrace.kernel import wildcard
from pytrace.kernel.kallsyms import Kallsyms
from pytrace.probes import Provider
from pytrace.probes.btf_args import args_record, module_btf, to_type, vmlinux
from pytrace.resources import AttachSpec

BPF_TRACE_FENTRY = 24
BPF_TRACE_FEXIT = 25


class FentryProvider(Provider):
    ctx_kind = "raw_args"
    user = False
    prog_type = "tracing"
    # A trampoline runs its newest program first: attached last to first.
    runs_newest_first = True
    func_from_spec = True  # `func` is bpf_get_func_ip, which tracing programs have

    def __init__(self, name: str, aliases: tuple[str, ...], is_return: bool):
        self.name, self.aliases, self.is_return = name, aliases, is_return
        self.attach_type = BPF_TRACE_FEXIT if is_return else BPF_TRACE_FENTRY

    def expand(self, ap, target) -> list[AttachSpec]:
        if len(ap.parts) == 2:
            module, func = ap.parts
        elif len(ap.parts) == 1:
            module, func = "", ap.parts[0]
        else:
            raise PytraceError(f"{self.name} probe must be {self.name}:[MODULE:]FUNCTION",
                               ap.span)
        base = vmlinux(target)
        if base is None:
            raise PytraceError(f"{ap.raw}: {self.name} probes need kernel BTF "
                               f"({B.VMLINUX_PATH} is missing)", ap.span)
        if wildcard.has_wildcard(func) or wildcard.has_wildcard(module):
            candidates = self._matching_functions(ap, target, module, func)
        else:
            candidates = [(module, func)]
        specs = []
        for mod, name in candidates:
            btf = base if mod in ("", "vmlinux") else module_btf(target, mod)
            if btf is None:
                raise PytraceError(f"{ap.raw}: module {mod!r} has no BTF", ap.span)
            sig = btf.func_signature(name)
            if sig is None:
                if len(candidates) > 1:
                    continue  # a symbol BTF does not describe (not traceable)
                raise PytraceError(f"{ap.raw}: no BTF for kernel function {name!r}"
                                   + (f" in module {mod}" if mod else ""), ap.span)
            args = args_record(btf, sig.params)
            options = {"btf_id": sig.func_id, "btf_module": mod if mod != "vmlinux" else "",
                       "nargs": len(sig.params), "args": args}
            if self.is_return:
                options["retval_index"] = len(sig.params)
                options["retval_type"] = to_type(btf, sig.ret_type_id)
            label = f"{self.name}:{mod}:{name}" if mod else f"{self.name}:{name}"
            specs.append(AttachSpec(self.name, label, mod, name, options=options))
        if not specs:
            raise PytraceError(f"No BTF-described kernel functions matched {ap.raw}", ap.span)
        return specs

    @staticmethod
    def _matching_functions(ap, target, module: str, func: str) -> list[tuple[str, str]]:
        try:
            kallsyms = Kallsyms.load(target)
        except (FileNotFoundError, PermissionError) as e:
            raise PytraceError(f"{ap.raw}: cannot read kernel symbols: {e}", ap.span) from None
        module_rx = wildcard.compile_wildcard(module).fullmatch if module else None
        return [(s.module, s.name) for s in kallsyms.functions(func)
                if "." not in s.name and (module_rx is None or module_rx(s.module or
                                                                          "vmlinux"))]

    def split_units(self, specs, probe) -> list[list[AttachSpec]]:
        return [[s] for s in specs]  # the verifier checks each against its own prototype

    def program_attrs(self, specs, target) -> dict:
        return {"prog_type": "tracing", "expected_attach_type": self.attach_type,
                "attach_btf_id": specs[0].options["btf_id"]}

    def args_type(self, spec, target):
        return spec.options.get("args")

    def attach(self, target, prog_fd, spec, options):
        return target.attach_tracing(prog_fd)


PROVIDERS = [FentryProvider("fentry", ("kfunc", "f"), False),
             FentryProvider("fexit", ("kretfunc", "fr"), True)]
