"""pytrace: a tracer for Linux in the bpftrace language, written in Python."""

__version__ = "0.1.0"
