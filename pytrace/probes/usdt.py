"""usdt:BINARY[:PROVIDER]:NAME: statically defined user probes (sys/sdt.h notes).

Each matching probe site becomes one uprobe at the site's file offset; a site
with a semaphore passes the semaphore's file offset as the uprobe's
ref_ctr_offset, so the kernel raises the semaphore while the probe is
attached (and lowers it on detach). arg0..N are decoded in BPF from the
site's argument specs (pytrace.builtins.probe_args), so when a probe reads
arguments, sites whose arguments live in different places get different
programs; sites that agree share one, and so do all sites of a probe that
reads none. With uprobe_multi links (Linux 6.6+) the sites of one program and
binary share one link (see pytrace.probes.uprobe).
"""

from __future__ import annotations

from pytrace import ast
from pytrace.diagnostics import PytraceError
from pytrace.kernel import wildcard
from pytrace.kernel.elf_symbols import ElfSymbols, SymbolError
from pytrace.kernel.usdt import UsdtError, load_probes, load_process_probes, match_probes
from pytrace.probes import Provider
from pytrace.probes.uprobe import (attach_pid, attach_points, binary_path, has_uprobe_multi,
                                   multi_program_attrs, shown_path)
from pytrace.resources import AttachSpec


class UsdtProvider(Provider):
    name = "usdt"
    aliases = ("U",)
    prog_type = "usdt"
    # USDT probes are uprobes: their consumers run newest first.
    runs_newest_first = True
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
        try:
            if binary == "" or wildcard.has_wildcard(binary):
                sites = self._process_sites(ap, target, binary or "*", pid)
                where = "the process's files"
            else:
                path = binary_path(ap, target, binary, pid)
                sites = load_probes(target, path)
                where = path
            sites = match_probes(sites, provider, name)
        except (UsdtError, OSError) as e:
            raise PytraceError(f"{ap.raw}: {e}", ap.span) from None
        if not sites:
            raise PytraceError(f"{ap.raw}: no USDT probe in {where} matches "
                               f"{provider}:{name}" if len(parts) == 3 else
                               f"{ap.raw}: no USDT probe in {where} matches {name}", ap.span)
        specs = []
        for s in sites:
            symbols = self._symbol_addresses(ap, target, s.path, [s])
            specs.append(AttachSpec(
                self.name, f"usdt:{shown_path(s.path)}:{s.provider}:{s.name}", s.path, s.name,
                s.file_offset, options={"ref_ctr_offset": s.semaphore_offset,
                                        "usdt_args": list(s.args), "usdt_pc": s.pc,
                                        "usdt_symbols": symbols}))
        return specs

    @staticmethod
    def _process_sites(ap, target, pattern: str, pid):
        """`usdt:*:...` (or an empty or wildcard path) with -p: every file the process maps."""
        if not pid or pid <= 0:
            raise PytraceError(f"{ap.raw}: a wildcard or empty binary needs -p PID", ap.span)
        rx = wildcard.compile_wildcard(pattern).fullmatch
        return [s for s in load_process_probes(target, pid) if rx(shown_path(s.path))]

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
        """One program per distinct argument layout (in site order); one for all
        sites when the probe reads no argument."""
        if not _reads_arguments(probe):
            return [specs]
        groups: dict[tuple, list[AttachSpec]] = {}
        for spec in specs:
            args = tuple(spec.options.get("usdt_args", ()))
            # %rip-relative arguments are found relative to the site's own pc.
            key = (args, spec.options["usdt_pc"] if any(a.symbol for a in args) else 0)
            groups.setdefault(key, []).append(spec)
        return list(groups.values())

    def args_type(self, spec, target):
        return None

    # uprobe_multi: the sites of one program and binary share one link, semaphores
    # included (its ref_ctr_offsets); per-site perf events where the kernel lacks it.
    def probe_ids_by_cookie(self, target) -> bool:
        return has_uprobe_multi(target)

    def program_attrs(self, specs, target) -> dict:
        return multi_program_attrs(target)

    def attach_program(self, target, prog_fd, program, options) -> list:
        return attach_points(target, prog_fd, program, options, False, self.attach)

    def attach(self, target, prog_fd, spec, options):
        return target.attach_uprobe(prog_fd, spec.target, spec.offset, retprobe=False,
                                    pid=attach_pid(options),
                                    ref_ctr_offset=spec.options.get("ref_ctr_offset", 0))


def _reads_arguments(probe) -> bool:
    return any(isinstance(n, ast.Builtin) and n.name.startswith(("arg", "sarg"))
               for n in ast.walk(probe))


PROVIDER = UsdtProvider()
