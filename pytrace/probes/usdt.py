"""usdt:BINARY[:PROVIDER]:NAME: statically defined user probes (sys/sdt.h notes).

Each matching probe site becomes one uprobe at the site's file offset; a site
with a semaphore passes the semaphore's file offset as the uprobe's
ref_ctr_offset, so the kernel raises the semaphore while the probe is
attached (and lowers it on detach). arg0..N are decoded in BPF from the
site's argument specs (pytrace.builtins.probe_args), so sites whose arguments
live in different places get different programs; sites that agree share one.
"""

from __future__ import annotations

from pytrace.diagnostics import PytraceError
from pytrace.kernel import wildcard
from pytrace.kernel.elf_symbols import ElfSymbols, SymbolError
from pytrace.kernel.usdt import UsdtError, load_probes, match_probes
from pytrace.probes.uprobe import attach_pid, binary_path, shown_path
from pytrace.resources import AttachSpec


class UsdtProvider:
    name = "usdt"
    aliases = ("U",)
    prog_type = "usdt"
    ctx_kind = "usdt"
    user = True
    is_return = False
    expands_for_pid = True

    def expand(self, ap, target, pid: int | None = None) -> list[AttachSpec]:
        parts = list(ap.parts)
        if len(parts) == 2:
            binary, provider, name = parts[0], "*", parts[1]
        elif len(parts) == 3:
            binary, provider, name = parts
        else:
            raise PytraceError("usdt probe must be usdt:BINARY[:PROVIDER]:NAME", ap.span)
        if wildcard.has_wildcard(binary):
            raise PytraceError(f"{ap.raw}: wildcards in the binary path are not supported",
                               ap.span)
        path = binary_path(ap, target, binary, pid)
        try:
            sites = match_probes(load_probes(target, path), provider, name)
        except (UsdtError, OSError) as e:
            raise PytraceError(f"{ap.raw}: {e}", ap.span) from None
        if not sites:
            raise PytraceError(f"{ap.raw}: no USDT probe in {path} matches "
                               f"{provider}:{name}" if len(parts) == 3 else
                               f"{ap.raw}: no USDT probe in {path} matches {name}", ap.span)
        symbols = self._symbol_addresses(ap, target, path, sites)
        return [AttachSpec(self.name, f"usdt:{shown_path(path)}:{s.provider}:{s.name}", path,
                           s.name,
                           s.file_offset,
                           options={"ref_ctr_offset": s.semaphore_offset,
                                    "usdt_args": list(s.args), "usdt_pc": s.pc,
                                    "usdt_symbols": symbols})
                for s in sites]

    @staticmethod
    def _symbol_addresses(ap, target, path, sites) -> dict[str, int]:
        """Addresses of globals named by %rip-relative arguments (`8@counter(%rip)`)."""
        names = {a.symbol for s in sites for a in s.args if a.symbol}
        if not names:
            return {}
        try:
            elf = ElfSymbols.load(target, path)
        except SymbolError as e:
            raise PytraceError(f"{ap.raw}: {e}", ap.span) from None
        out = {}
        for n in names:
            sym = elf.lookup(n)
            if sym is None:
                raise PytraceError(f"{ap.raw}: argument symbol {n!r} not found in {path}",
                                   ap.span)
            out[n] = sym.address
        return out

    def split_units(self, specs, probe) -> list[list[AttachSpec]]:
        """One program per distinct argument layout (in site order)."""
        groups: dict[tuple, list[AttachSpec]] = {}
        for spec in specs:
            args = tuple(spec.options.get("usdt_args", ()))
            # %rip-relative arguments are found relative to the site's own pc.
            key = (args, spec.options["usdt_pc"] if any(a.symbol for a in args) else 0)
            groups.setdefault(key, []).append(spec)
        return list(groups.values())

    def args_type(self, spec, target):
        return None

    def attach(self, target, prog_fd, spec, options):
        return target.attach_uprobe(prog_fd, spec.target, spec.offset, retprobe=False,
                                    pid=attach_pid(options),
                                    ref_ctr_offset=spec.options.get("ref_ctr_offset", 0))


PROVIDER = UsdtProvider()
