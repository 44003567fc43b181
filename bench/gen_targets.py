#!/usr/bin/env python3
"""Write a targets.json with N targets (default 100000, about 17 MB), as
python-tuf would lay it out (indent 1, sorted keys), for bench/json_bench.c.

    python3 bench/gen_targets.py bench/out/targets.json [N]
"""
import hashlib
import json
import random
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
rnd = random.Random(1)
targets = {}
for i in range(n):
    name = "%s/pkg%06d-%d.%d.%d.tgz" % (rnd.choice(["core", "extra", "community"]), i,
                                       rnd.randint(0, 9), rnd.randint(0, 20), rnd.randint(0, 99))
    targets[name] = {
        "length": rnd.randint(100, 10**9),
        "hashes": {"sha256": hashlib.sha256(str(i).encode()).hexdigest()},
    }
doc = {
    "signatures": [{"keyid": "a" * 64, "sig": "b" * 128}],
    "signed": {"_type": "targets", "spec_version": "1.0.31", "version": 1,
               "expires": "2030-01-01T00:00:00Z", "targets": targets},
}
with open(out, "w") as f:
    f.write(json.dumps(doc, indent=1, sort_keys=True))
