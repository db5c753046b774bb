"""The wire protocol between pytrace (the host) and its agent (the target).

Both ends import this module: the agent runs it on the target's python3 (3.6 or
later, stdlib only, nothing else of pytrace). Everything is a frame:

    magic "PT" | protocol version u8 | kind u8 | flags u8 | 3 zero bytes
    | payload length u32 | CRC-32 of the payload u32 | payload

little-endian, 16 bytes of header. flags bit 0: the payload is zlib-compressed
(the CRC covers the bytes as sent). A frame with a bad magic, version, length
or CRC ends the session (`ProtocolError`): nothing after it can be trusted.

Payloads are values in a small tagged encoding (`encode`/`decode`): None,
booleans, ints, floats, str, bytes, lists and dicts; no classes, so neither
end can make the other run code (no pickle). Event frames carry raw
ring-buffer bytes instead (see the kinds below and docs/remote.md).
"""

from __future__ import annotations

import struct
import zlib

PROTOCOL_VERSION = 1
MAGIC = b"PT"
HEADER = struct.Struct("<2sBBB3xII")
HEADER_SIZE = HEADER.size
MAX_PAYLOAD = 1 << 30          # a longer frame is corruption, not data
COMPRESS_MIN = 64 * 1024       # payloads at least this big go compressed
FLAG_ZLIB = 1

# Frame kinds.
HELLO = ord("H")     # agent -> host, once: what the target is (a dict)
CALL = ord("C")      # host -> agent: {"id", "calls": [[method, args, kwargs, handle]...]}
REPLY = ord("R")     # agent -> host: {"id", "results": [...]}
ERROR = ord("E")     # agent -> host: {"id", "index": call index, "error": {...}}
EVENTS = ord("V")    # agent -> host: u32 ring handle + ring-buffer records (raw)
EXITED = ord("X")    # agent -> host: {"pid", "status"}: a watched process ended
OUTPUT = ord("O")    # agent -> host: bytes the -c command wrote to its stdout (raw)
KINDS = frozenset((HELLO, CALL, REPLY, ERROR, EVENTS, EXITED, OUTPUT))


class ProtocolError(Exception):
    """The byte stream is not (or no longer) a pytrace session."""


def frame(kind, payload, compress=False):
    """One frame's bytes. compress: zlib the payload when it is big enough."""
    flags = 0
    if compress and len(payload) >= COMPRESS_MIN:
        payload = zlib.compress(payload, 1)
        flags |= FLAG_ZLIB
    return HEADER.pack(MAGIC, PROTOCOL_VERSION, kind, flags, len(payload),
                       zlib.crc32(payload) & 0xFFFFFFFF) + payload


class FrameReader:
    """Splits a byte stream into (kind, payload) frames, checking each."""

    def __init__(self):
        self.buffer = bytearray()

    def feed(self, data):
        self.buffer += data

    def frames(self):
        """The complete frames buffered so far (a partial one waits for more)."""
        out = []
        buf = self.buffer
        pos = 0
        while len(buf) - pos >= HEADER_SIZE:
            magic, version, kind, flags, length, crc = HEADER.unpack_from(buf, pos)
            if magic != MAGIC:
                raise ProtocolError("corrupt frame (bad magic {!r})".format(bytes(magic)))
            if version != PROTOCOL_VERSION:
                raise ProtocolError("the other end speaks protocol version {}, this one {}"
                                    .format(version, PROTOCOL_VERSION))
            if kind not in KINDS or length > MAX_PAYLOAD:
                raise ProtocolError("corrupt frame (kind {}, length {})".format(kind, length))
            end = pos + HEADER_SIZE + length
            if len(buf) < end:
                break
            payload = bytes(buf[pos + HEADER_SIZE:end])
            if zlib.crc32(payload) & 0xFFFFFFFF != crc:
                raise ProtocolError("corrupt frame (checksum mismatch)")
            if flags & FLAG_ZLIB:
                try:
                    payload = zlib.decompress(payload)
                except zlib.error:
                    raise ProtocolError("corrupt frame (bad compressed data)") from None
            out.append((kind, payload))
            pos = end
        if pos:
            del buf[:pos]
        return out


# ---- values ----------------------------------------------------------------------------

_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")
_F64 = struct.Struct("<d")


def encode(value):
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _encode(v, out):
    if v is None:
        out += b"N"
    elif v is True:
        out += b"T"
    elif v is False:
        out += b"F"
    elif isinstance(v, int):
        if -(1 << 63) <= v < (1 << 63):
            out += b"i" + _I64.pack(v)
        else:
            text = str(v).encode()
            out += b"L" + _U32.pack(len(text)) + text
    elif isinstance(v, float):
        out += b"f" + _F64.pack(v)
    elif isinstance(v, str):
        data = v.encode("utf-8", "surrogateescape")
        out += b"s" + _U32.pack(len(data)) + data
    elif isinstance(v, (bytes, bytearray, memoryview)):
        out += b"b" + _U32.pack(len(v)) + bytes(v)
    elif isinstance(v, (list, tuple)):
        out += b"l" + _U32.pack(len(v))
        for item in v:
            _encode(item, out)
    elif isinstance(v, dict):
        out += b"d" + _U32.pack(len(v))
        for key, item in v.items():
            _encode(key, out)
            _encode(item, out)
    else:
        raise TypeError("cannot send a {} over the protocol".format(type(v).__name__))


def decode(data):
    try:
        value, pos = _decode(data, 0)
    except (struct.error, IndexError, UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("corrupt message") from None
    if pos != len(data):
        raise ProtocolError("corrupt message (trailing bytes)")
    return value


def _decode(data, pos):
    tag = data[pos:pos + 1]
    pos += 1
    if tag == b"N":
        return None, pos
    if tag == b"T":
        return True, pos
    if tag == b"F":
        return False, pos
    if tag == b"i":
        return _I64.unpack_from(data, pos)[0], pos + 8
    if tag == b"f":
        return _F64.unpack_from(data, pos)[0], pos + 8
    if tag in (b"s", b"b", b"L"):
        (n,) = _U32.unpack_from(data, pos)
        pos += 4
        raw = data[pos:pos + n]
        if len(raw) != n:
            raise ValueError("short")
        pos += n
        if tag == b"b":
            return bytes(raw), pos
        if tag == b"s":
            return bytes(raw).decode("utf-8", "surrogateescape"), pos
        return int(bytes(raw)), pos
    if tag == b"l":
        (n,) = _U32.unpack_from(data, pos)
        pos += 4
        items = []
        for _ in range(n):
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos
    if tag == b"d":
        (n,) = _U32.unpack_from(data, pos)
        pos += 4
        d = {}
        for _ in range(n):
            key, pos = _decode(data, pos)
            d[key], pos = _decode(data, pos)
        return d, pos
    raise ValueError("unknown tag")


def events_payload(handle, blob):
    return _U32.pack(handle) + blob


def split_events(payload):
    """(ring handle, records blob) of an EVENTS frame."""
    if len(payload) < 4:
        raise ProtocolError("corrupt events frame")
    return _U32.unpack_from(payload, 0)[0], payload[4:]


# ---- errors as values ---------------------------------------------------------------------

def error_value(exc):
    """What an ERROR frame says about an exception (the host rebuilds it)."""
    value = {"class": type(exc).__name__, "message": getattr(exc, "message", None) or str(exc)}
    for attr in ("errno", "strerror", "filename", "log", "kind", "index"):
        got = getattr(exc, attr, None)
        if isinstance(got, (int, str)) and not isinstance(got, bool):
            value[attr] = got
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        value["cause"] = error_value(cause)
    return value
