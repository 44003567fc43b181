"""tuf_interop.py METADATA_DIR - check metadata pawl-repo published with the
reference implementation's crypto layer (securesystemslib), independently
of pawl's own code:

  - every key id is the SHA-256 of securesystemslib's canonical JSON of the
    key object;
  - every role (every root version, timestamp, snapshot, targets, every
    delegated role) carries a threshold of valid signatures, verified over
    securesystemslib's canonical JSON of "signed";
  - each new root is also signed by the previous root's threshold;
  - timestamp and snapshot hashes and lengths match the published files.

Exit 0 when everything holds, 1 with a message otherwise, 77 (skip) when
securesystemslib is not installed.
"""
import hashlib
import json
import os
import re
import sys

try:
    from securesystemslib import formats, keys
except ImportError:
    print("securesystemslib not installed")
    sys.exit(77)


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    return data, json.loads(data)


def check_keyids(keydict, where):
    # TUF 1.0: KEYID is the hex SHA-256 of the canonical form of the key
    # object as it appears in the metadata. (securesystemslib's own
    # _get_keyid() adds its legacy keyid_hash_algorithms field first, which
    # pawl does not write, as python-tuf 1.x and later do not.)
    for kid, k in keydict.items():
        want = hashlib.sha256(formats.encode_canonical(k).encode("utf-8")).hexdigest()
        if want != kid:
            raise SystemExit(f"{where}: key id {kid} is not the SHA-256 of the canonical "
                             f"key object ({want})")


def count_valid(md, keydict, role, where):
    data = formats.encode_canonical(md["signed"]).encode("utf-8")
    good = set()
    for sig in md["signatures"]:
        kid = sig["keyid"]
        if kid not in role["keyids"] or kid not in keydict:
            continue
        key = dict(keydict[kid], keyid=kid)
        if keys.verify_signature(key, sig, data):
            good.add(kid)
    return len(good)


def need(md, keydict, role, where):
    n = count_valid(md, keydict, role, where)
    if n < role["threshold"]:
        raise SystemExit(f"{where}: {n} valid signatures, threshold {role['threshold']}")


def main(mdir):
    roots = sorted(
        (int(m.group(1)), f)
        for f in os.listdir(mdir)
        if (m := re.fullmatch(r"(\d+)\.root\.json", f))
    )
    prev = None
    for v, f in roots:
        _, root = load(os.path.join(mdir, f))
        s = root["signed"]
        check_keyids(s["keys"], f)
        need(root, s["keys"], s["roles"]["root"], f)
        if prev:
            ps = prev["signed"]
            need(root, ps["keys"], ps["roles"]["root"], f + " (by the previous root)")
        prev = root
    rs = prev["signed"]
    consistent = rs.get("consistent_snapshot", False)
    tdata, ts = load(os.path.join(mdir, "timestamp.json"))
    need(ts, rs["keys"], rs["roles"]["timestamp"], "timestamp.json")
    sm = ts["signed"]["meta"]["snapshot.json"]
    name = f"{sm['version']}.snapshot.json" if consistent else "snapshot.json"
    sdata, snap = load(os.path.join(mdir, name))
    need(snap, rs["keys"], rs["roles"]["snapshot"], name)
    if len(sdata) != sm.get("length", len(sdata)) or (
        "hashes" in sm and hashlib.sha256(sdata).hexdigest() != sm["hashes"]["sha256"]
    ):
        raise SystemExit(f"{name}: length or sha256 differs from timestamp")
    checked = 0

    def visit(role, keydict, delegation):
        nonlocal checked
        meta = snap["signed"]["meta"][role + ".json"]
        fname = f"{meta['version']}.{role}.json" if consistent else role + ".json"
        data, md = load(os.path.join(mdir, fname))
        if "hashes" in meta and hashlib.sha256(data).hexdigest() != meta["hashes"]["sha256"]:
            raise SystemExit(f"{fname}: sha256 differs from snapshot")
        need(md, keydict, delegation, fname)
        checked += 1
        d = md["signed"].get("delegations")
        if not d:
            return
        check_keyids(d["keys"], fname + " delegations")
        if "succinct_roles" in d:
            sr = d["succinct_roles"]
            width = (sr["bit_length"] + 3) // 4
            for b in range(2 ** sr["bit_length"]):
                visit(f"{sr['name_prefix']}-{b:0{width}x}", d["keys"], sr)
        for r in d.get("roles", []):
            visit(r["name"], d["keys"], r)

    visit("targets", rs["keys"], rs["roles"]["targets"])
    print(f"securesystemslib agrees: {len(roots)} root versions, timestamp, snapshot, "
          f"{checked} targets roles")


if __name__ == "__main__":
    main(sys.argv[1])
