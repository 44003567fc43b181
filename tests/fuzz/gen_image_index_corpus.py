#!/usr/bin/env python3
"""Write the seed corpus of fuzz_image_index.c (docs/image-format.md).

Valid indexes of each shape (format 1 and, "v2-", format 2) (fixed and bounded chunking, one and several
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



# Format 2 (docs/image-format.md "Format 2"): frames, extents, groups.
def index2(frames, extents, packs, length, piece_size=4096, group=4,
           sums=b"os/2.0.0/image.sums", reserved=0, total=None, extra=b"",
           image_pieces=None, compression=1, chunking=1, ngroups=None):
    if image_pieces is None:
        image_pieces = -(-length // piece_size)
    if ngroups is None:
        ngroups = -(-image_pieces // group)
    body = b""
    for name, plen in packs:
        body += struct.pack(">QH", plen, len(name)) + name
    body += sums
    for pack, ulen, clen, poff in frames:
        csha = hashlib.sha256(b"c%d.%d" % (pack, poff)).digest()
        usha = hashlib.sha256(b"u%d.%d" % (pack, poff)).digest()
        body += struct.pack(">HIIQ", pack, ulen, clen, poff) + csha + usha
    for first, count, frame, fpiece in extents:
        body += struct.pack(">IIII", first, count, frame, fpiece)
    for g in range(ngroups):
        body += hashlib.sha256(b"g%d" % g).digest()
    body += extra
    size = 80 + len(body) if total is None else total
    head = b"PAWLIDX\x02" + struct.pack(
        ">IBBHIIQ", size, compression, chunking, len(packs), piece_size,
        image_pieces, length) + b"\x22" * 32 + struct.pack(
        ">IIIHH", len(frames), len(extents), group, len(sums), reserved)
    assert len(head) == 80
    return head + body


P2, P1 = b"os/2.0.0/image.pack", b"os/1.0.0/image.pack"
F3 = [(1, 4 * 4096, 500, 0), (0, 3 * 4096, 300, 0), (0, 2 * 4096 + 100, 200, 300)]
E5 = [(0, 2, 0, 1), (2, 3, 1, 0), (5, 1, 0, 1), (6, 2, 1, 1), (8, 3, 2, 0)]
K2 = [(P2, 500), (P1, 500)]
L = 10 * 4096 + 100
seeds["v2-valid"] = index2(F3, E5, K2, L)
seeds["v2-valid-one-piece"] = index2([(0, 1, 10, 0)], [(0, 1, 0, 0)], [(b"a", 10)], 1,
                                     piece_size=65536, group=1, sums=b"b")
seeds["v2-valid-repeats"] = index2([(0, 4096, 30, 0)],
                                   [(0, 1, 0, 0), (1, 1, 0, 0), (2, 1, 0, 0)],
                                   [(b"z", 30)], 3 * 4096, group=64)
seeds["v2-valid-big-groups"] = index2([(0, 64 * 4096, 900, 0)], [(0, 64, 0, 0)],
                                      [(P2, 900)], 64 * 4096, group=4096)
seeds["v2-truncated"] = seeds["v2-valid"][:-1]
seeds["v2-trailing"] = index2(F3, E5, K2, L, total=len(seeds["v2-valid"]) + 1, extra=b"\0")
seeds["v2-short-header"] = seeds["v2-valid"][:79]
seeds["v2-reserved"] = index2(F3, E5, K2, L, reserved=1)
seeds["v2-bounded"] = index2(F3, E5, K2, L, chunking=2)
seeds["v2-piece-6k"] = index2(F3, E5, K2, L, piece_size=6144)
seeds["v2-gap"] = index2(F3, [(0, 2, 0, 1), (3, 3, 1, 0)] + E5[2:], K2, L)
seeds["v2-overlap-extent"] = index2(F3, [(0, 2, 0, 1), (1, 3, 1, 0)] + E5[2:], K2, L)
seeds["v2-past-frame"] = index2(F3, [(0, 2, 0, 3)] + E5[1:], K2, L)
seeds["v2-past-image"] = index2(F3, E5[:4] + [(8, 4, 2, 0)], K2, L)
seeds["v2-short-mismatch"] = index2(F3, E5[:3] + [(6, 2, 2, 1), (8, 3, 2, 0)], K2, L)
seeds["v2-unused-frame"] = index2(F3, [(0, 2, 1, 1), (2, 3, 1, 0), (5, 1, 1, 1)] + E5[3:],
                                  K2, L)
seeds["v2-overlap-frames"] = index2(F3[:2] + [(0, 2 * 4096 + 100, 200, 299)], E5, K2, L)
seeds["v2-out-of-pack"] = index2(F3[:2] + [(0, 2 * 4096 + 100, 200, 301)], E5, K2, L)
seeds["v2-empty-pack"] = index2(F3, E5, [(P2, 500), (P1, 0)], L)
seeds["v2-unused-pack"] = index2(F3, E5, K2 + [(b"os/0/image.pack", 10)], L)
seeds["v2-dup-pack"] = index2(F3, E5, [(P2, 500), (P2, 500)], L)
seeds["v2-sums-is-pack"] = index2(F3, E5, K2, L, sums=P1)
seeds["v2-sums-dotdot"] = index2(F3, E5, K2, L, sums=b"os/../image.sums")
seeds["v2-no-frames"] = index2([], E5, K2, L)
seeds["v2-many-frames"] = (seeds["v2-valid"][:64] + struct.pack(">I", 0xFFFFFFFF) +
                           seeds["v2-valid"][68:])
seeds["v2-many-extents"] = (seeds["v2-valid"][:68] + struct.pack(">I", 0xFFFFFFFF) +
                            seeds["v2-valid"][72:])
seeds["v2-group-0"] = index2(F3, E5, K2, L, group=0, ngroups=3)
seeds["v2-pieces-mismatch"] = index2(F3, E5, K2, L, image_pieces=12)
seeds["v2-huge-frame"] = index2([(0, 8 << 20, 100, 0)], [(0, 1, 0, 0)], [(b"p", 200)], 4096)

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(len(seeds), "seeds in", OUT)
