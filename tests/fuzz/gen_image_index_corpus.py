#!/usr/bin/env python3
"""Write the seed corpus of fuzz_image_index.c (docs/image-format.md).

Valid indexes of each shape (fixed and bounded chunking, one and several
packs, pieces out of pack order) and one of each kind of broken index the
parser must refuse. Run from the repository root; the files are committed.
"""
import hashlib
import os
import struct

OUT = "tests/fuzz/corpus/image_index"


def index(pieces, packs, length=None, piece_size=4096, chunking=1, version=1,
          compression=1, total=None, image_sha=b"\x11" * 32, extra=b""):
    body = b""
    for name, plen in packs:
        body += struct.pack(">QH", plen, len(name)) + name
    for pack, ulen, clen, poff in pieces:
        csha = hashlib.sha256(b"c%d" % poff).digest()
        usha = hashlib.sha256(b"u%d" % poff).digest()
        body += struct.pack(">HIIQ", pack, ulen, clen, poff) + csha + usha
    if length is None:
        length = sum(p[1] for p in pieces)
    body += extra
    size = 64 + len(body) if total is None else total
    head = b"PAWLIDX" + bytes([version]) + struct.pack(
        ">IBBHIIQ", size, compression, chunking, len(packs), piece_size,
        len(pieces), length) + image_sha
    assert len(head) == 64
    return head + body


def seq(ulens, clen=100, name=b"os/1.0.0/image.pack"):
    pieces = [(0, u, clen, i * clen) for i, u in enumerate(ulens)]
    return pieces, [(name, clen * len(ulens))]


seeds = {}
p, k = seq([4096, 4096, 100])
seeds["valid-fixed"] = index(p, k)
p, k = seq([4096])
seeds["valid-one-piece"] = index(p, k)
p, k = seq([100, 4096, 7, 4096], clen=50)
seeds["valid-bounded"] = index(p, k, chunking=2)
seeds["valid-two-packs"] = index(
    [(1, 4096, 60, 500), (0, 4096, 70, 0), (1, 10, 20, 0)],
    [(b"os/2.0.0/image.pack", 70), (b"os/1.0.0/image.pack", 600)])
p, k = seq([4096, 4096, 100])
good = index(p, k)
seeds["bad-magic"] = b"PAWLIDY" + good[7:]
seeds["bad-version"] = good[:7] + b"\x02" + good[8:]
seeds["truncated"] = good[:-1]
seeds["trailing"] = index(p, k, total=len(good) + 1, extra=b"\0")
seeds["short-header"] = good[:40]
seeds["length-mismatch"] = index(p, k, length=8193)
seeds["overlap-pack"] = index([(0, 4096, 100, 0), (0, 100, 100, 50)],
                              [(b"os/1.0.0/image.pack", 200)])
seeds["out-of-pack"] = index([(0, 4096, 100, 0), (0, 100, 100, 150)],
                             [(b"os/1.0.0/image.pack", 200)])
seeds["fixed-short-piece"] = index([(0, 4000, 100, 0), (0, 196, 100, 100)],
                                   [(b"os/1.0.0/image.pack", 200)])
seeds["bad-pack-id"] = index([(3, 4096, 100, 0)], [(b"os/1.0.0/image.pack", 200)])
seeds["dotdot-name"] = index([(0, 4096, 100, 0)], [(b"os/../image.pack", 200)])
seeds["huge-piece"] = index([(0, 8 << 20, 100, 0)], [(b"p", 200)], piece_size=8 << 20)
seeds["many-pieces"] = (good[:20] + struct.pack(">I", 0xFFFFFFFF) + good[24:])
seeds["unused-pack"] = index([(0, 4096, 100, 0)], [(b"a", 200), (b"b", 1)])
seeds["dup-pack"] = index([(0, 4096, 100, 0), (1, 5, 10, 0)], [(b"a", 200), (b"a", 10)],
                          chunking=2)

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(len(seeds), "seeds in", OUT)
