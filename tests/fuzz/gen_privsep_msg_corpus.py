#!/usr/bin/env python3
"""Write the seed corpus of fuzz_privsep_msg.c (src/pawl/privsep_msg.h).

Each seed is one control byte (budget and chunk size, see the fuzz target)
and a stream of fetcher messages: honest runs of each shape, and one of
each kind of frame the root side must refuse. Run from the repository
root; the files are committed.
"""
import os
import struct

OUT = "tests/fuzz/corpus/privsep_msg"
OUTCOME, REJECTED, DATA = 1, 2, 3
NONE, OK, ERROR = 0, 1, 2
TEXT_MAX = 2048


def frame(t, payload, length=None):
    return struct.pack(">BI", t, len(payload) if length is None else length) + payload


def text(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def outcome(kind, code=0, msg=""):
    return frame(OUTCOME, struct.pack(">Bi", kind, code) + text(msg))


def rejected(code, url, msg):
    return frame(REJECTED, struct.pack(">i", code) + text(url) + text(msg))


def data(b):
    return frame(DATA, b)


url = "https://127.0.0.1:8443/metadata/timestamp.json"
seeds = {
    # honest runs
    "ok": b"\x00" + outcome(OK),
    "none": b"\x05" + outcome(NONE),
    "error-network": b"\x01" + outcome(ERROR, -12, "every mirror failed: " + url),
    "rejected-then-ok": b"\x02" + rejected(-5, url, "timestamp: 0 of 1 signatures")
    + rejected(-6, url, "expired 2026-01-01T00:00:00Z") + outcome(OK),
    "utf8-message": b"\x03" + outcome(ERROR, -11, "kan ikke åpne — ключ \U0001f511"),
    "data-pieces": b"\x04" + data(bytes(range(256)) * 4) + data(b"\x00") + outcome(OK),
    "data-max": b"\x1f" + data(b"\xa5" * 65536) + outcome(OK),
    "text-max": b"\x00" + rejected(-1, "u" * TEXT_MAX, "m" * TEXT_MAX) + outcome(OK),
    "small-budget-fits": b"\x81" + outcome(OK) + outcome(NONE),
    "empty": b"\x00",
    # what a hostile fetcher might send
    "unknown-type-0": b"\x00" + frame(0, b"\x01\x00\x00\x00\x00\x00\x00"),
    "unknown-type-ff": b"\x00" + frame(0xFF, b""),
    "oversize-outcome": b"\x00" + frame(OUTCOME, b"", length=1 + 4 + 2 + TEXT_MAX + 1),
    "oversize-data": b"\x00" + frame(DATA, b"", length=65537),
    "oversize-data-full": b"\x00" + data(b"\x5a" * 65537) + outcome(OK),
    "oversize-rejected": b"\x00" + frame(REJECTED, struct.pack(">i", -1) + text("u" * TEXT_MAX)
                                          + text("m" * TEXT_MAX) + b"!"),
    "del-in-message": b"\x00" + outcome(ERROR, -4, "rubout\x7f"),
    "huge-length": b"\x00" + b"\x03\xff\xff\xff\xff",
    "truncated-header": b"\x00" + outcome(OK)[:3],
    "truncated-payload": b"\x00" + outcome(ERROR, -1, "cut here")[:-3],
    "ok-then-truncated": b"\x00" + outcome(OK) + rejected(-4, url, "x")[:9],
    "code-zero-error": b"\x00" + outcome(ERROR, 0, "no code"),
    "code-too-low": b"\x00" + outcome(ERROR, -19, "below the last pawl_err"),
    "code-positive": b"\x00" + outcome(ERROR, 7, "positive"),
    "code-int-min": b"\x00" + rejected(-2147483648, url, "min"),
    "ok-with-code": b"\x00" + outcome(OK, -1, ""),
    "none-with-message": b"\x00" + outcome(NONE, 0, "hello"),
    "unknown-outcome": b"\x00" + outcome(3),
    "escape-in-message": b"\x00" + outcome(ERROR, -4, "\x1b]0;owned\x07\x1b[2J"),
    "newline-in-url": b"\x00" + rejected(-5, "http://x/\nfetcher.exit uid=0", "forged line"),
    "nul-in-text": b"\x00" + outcome(ERROR, -4, b"a\x00b"),
    "c1-csi": b"\x00" + outcome(ERROR, -4, b"\xc2\x9b31m"),
    "bare-c1": b"\x00" + outcome(ERROR, -4, b"\x9b31m"),
    "overlong-utf8": b"\x00" + outcome(ERROR, -4, b"\xc0\xaf"),
    "surrogate": b"\x00" + outcome(ERROR, -4, b"\xed\xa0\x80"),
    "text-over-max": b"\x00" + rejected(-1, "u" * (TEXT_MAX + 1), ""),
    "text-past-payload": b"\x00" + frame(OUTCOME, struct.pack(">BiH", ERROR, -1, 50) + b"abc"),
    "trailing-bytes": b"\x00" + frame(OUTCOME, struct.pack(">BiH", NONE, 0, 0) + b"zz"),
    "empty-data": b"\x00" + data(b""),
    "empty-outcome": b"\x00" + frame(OUTCOME, b""),
    "over-budget": b"\x80" + outcome(OK) + outcome(OK) + outcome(OK) + outcome(OK),
    "over-budget-split": b"\x9f" + data(b"d" * 2000),
    "flood": b"\x00" + rejected(-1, "", "") * 5000,
}

os.makedirs(OUT, exist_ok=True)
for name, blob in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(blob)
print(len(seeds), "seeds in", OUT)
