"""bpftrace's tuning settings: the BPFTRACE_* environment variables and the
`config = { ... }` block that mirrors them.

bpftrace 0.17 reads these variables (its `--help` lists most of them); the
config block comes from later bpftrace releases, which name each setting either
by its variable (`BPFTRACE_STRLEN = 100`) or by a short key (`max_strlen =
100`). As there, a variable that is set wins over the block. The session reads
the environment (its one parser of numbers, `session._env_count`) and hands
the values over; `resolve` merges them with the program's block into one
`Settings` the compiler keeps, and the runtime reads through Resources.config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pytrace import ast
from pytrace.diagnostics import PytraceError

STACK_MODES = ("bpftrace", "perf", "raw")
# pytrace's own setting (not in any bpftrace): the order maps print in.
PRINT_ORDERS = ("ascending", "descending")
# str() buffers live on the 512-byte BPF stack: bpftrace 0.17 stops at 200.
MAX_STRLEN = 200
# bpf(2) takes a map's max_entries as a u32.
MAX_MAP_KEYS = (1 << 32) - 1


@dataclass(frozen=True)
class Setting:
    field: str              # the Settings attribute
    env: str                # the environment variable
    keys: tuple[str, ...]   # its names in a config block (besides `env`)
    kind: str               # "count" (a positive integer), "flag" (0 or 1), "mode", "order"


SETTINGS = (
    Setting("strlen", "BPFTRACE_STRLEN", ("strlen", "max_strlen"), "count"),
    Setting("map_keys_max", "BPFTRACE_MAP_KEYS_MAX", ("map_keys_max", "max_map_keys"), "count"),
    Setting("cat_bytes_max", "BPFTRACE_CAT_BYTES_MAX", ("cat_bytes_max", "max_cat_bytes"),
            "count"),
    Setting("max_probes", "BPFTRACE_MAX_PROBES", ("max_probes",), "count"),
    Setting("max_bpf_progs", "BPFTRACE_MAX_BPF_PROGS", ("max_bpf_progs",), "count"),
    Setting("perf_rb_pages", "BPFTRACE_PERF_RB_PAGES", ("perf_rb_pages",), "count"),
    Setting("log_size", "BPFTRACE_LOG_SIZE", ("log_size",), "count"),
    Setting("max_type_res_iterations", "BPFTRACE_MAX_TYPE_RES_ITERATIONS",
            ("max_type_res_iterations",), "count"),
    Setting("no_cpp_demangle", "BPFTRACE_NO_CPP_DEMANGLE", ("no_cpp_demangle",), "flag"),
    Setting("no_user_symbols", "BPFTRACE_NO_USER_SYMBOLS", ("no_user_symbols",), "flag"),
    Setting("cache_user_symbols", "BPFTRACE_CACHE_USER_SYMBOLS", ("cache_user_symbols",),
            "flag"),
    Setting("stack_mode", "BPFTRACE_STACK_MODE", ("stack_mode",), "mode"),
    Setting("print_order", "PYTRACE_PRINT_ORDER", ("print_order",), "order"),
)


@dataclass
class Settings:
    """The values in force for one compile (bpftrace's defaults)."""

    strlen: int = 64
    map_keys_max: int = 4096
    cat_bytes_max: int = 10240
    max_probes: int = 512
    max_bpf_progs: int = 512
    perf_rb_pages: int = 0        # 0: pytrace's own ring buffer size (4 MiB)
    log_size: int = 1_000_000     # accepted; pytrace sizes the verifier log itself
    max_type_res_iterations: int = 0  # accepted; BTF types are resolved as used
    no_cpp_demangle: bool = False
    no_user_symbols: bool = False
    cache_user_symbols: bool = False  # accepted; a run reads each process's symbols once
    stack_mode: str = "bpftrace"
    print_order: str = "ascending"  # pytrace's extension: "descending", largest first

    def as_dict(self) -> dict:
        return asdict(self)


_BY_KEY = {key: s for s in SETTINGS for key in (s.env, *s.keys)}


def flag_value(env: str, text: str) -> bool:
    """A 0-or-1 variable, refused as bpftrace refuses it."""
    if text.strip() not in ("0", "1"):
        raise PytraceError(f"Env var '{env}' did not contain a valid value (0 or 1).")
    return text.strip() == "1"


def mode_value(env: str, text: str) -> str:
    if text not in STACK_MODES:
        raise PytraceError(f"Env var '{env}' did not contain a valid stack mode "
                           f"({', '.join(STACK_MODES)})")
    return text


def order_value(env: str, text: str) -> str:
    if text not in PRINT_ORDERS:
        raise PytraceError(f"Env var '{env}' did not contain a valid print order "
                           f"({', '.join(PRINT_ORDERS)})")
    return text


def resolve(config: ast.Config | None, environment: dict) -> Settings:
    """The settings for a program: its config block, then the environment's
    values (by Settings field) over it; every value checked."""
    settings = Settings()
    for name, value in (config.settings if config is not None else ()):
        setting = _BY_KEY.get(name)
        if setting is None:
            raise PytraceError(f"Unrecognized config variable: {name}", value.span)
        setattr(settings, setting.field, _config_value(setting, name, value))
    for field, value in environment.items():
        setattr(settings, field, value)
    _check(settings, config, environment)
    return settings


def _config_value(setting: Setting, name: str, value: ast.Expr):
    if setting.kind == "count":
        if not isinstance(value, ast.Integer) or value.value < 1:
            raise PytraceError(f"{name} must be a positive integer", value.span)
        return value.value
    if setting.kind == "flag":
        if isinstance(value, ast.Boolean):
            return value.value
        if isinstance(value, ast.Integer) and value.value in (0, 1):
            return bool(value.value)
        raise PytraceError(f"{name} must be 0 or 1", value.span)
    text = value.name if isinstance(value, ast.Identifier) else \
        value.value if isinstance(value, ast.String) else None
    choices = PRINT_ORDERS if setting.kind == "order" else STACK_MODES
    if text not in choices:
        raise PytraceError(f"{name} must be one of: {', '.join(choices)}", value.span)
    return text


def _check(settings: Settings, config: ast.Config | None, environment: dict) -> None:
    """Limits that hold whichever way a value came."""
    if settings.strlen > MAX_STRLEN:
        raise PytraceError(f"'BPFTRACE_STRLEN' {settings.strlen} exceeds the current maximum "
                           f"of {MAX_STRLEN} bytes (strings live on the 512-byte BPF stack)",
                           _span_of(config, "strlen", environment))
    if settings.map_keys_max > MAX_MAP_KEYS:
        raise PytraceError(f"'BPFTRACE_MAP_KEYS_MAX' {settings.map_keys_max} exceeds the "
                           f"current maximum of {MAX_MAP_KEYS} (a map's size is a u32)",
                           _span_of(config, "map_keys_max", environment))
    pages = settings.perf_rb_pages
    if pages and pages & (pages - 1):
        raise PytraceError(f"'BPFTRACE_PERF_RB_PAGES' {pages} is not a power of 2",
                           _span_of(config, "perf_rb_pages", environment))


def _span_of(config: ast.Config | None, field: str, environment: dict):
    """Where a config value that broke a limit is, unless the environment set it."""
    if field in environment or config is None:
        return None
    for name, value in config.settings:
        if _BY_KEY[name].field == field:
            return value.span
    return None
