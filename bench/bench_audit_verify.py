"""Bench: verify a 1,000,000-entry audit log; compare with plain SHA-256 over the same bytes.

Usage (from the repo root): PYTHONPATH=. python bench/bench_audit_verify.py [--entries N] [--keep DIR]
The generator writes realistic, correctly chained lines directly (no fsync per line), adds a
signed checkpoint at the end, then times `verify_log` and a streaming SHA-256 of the file.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from archive.audit.checkpoint import Checkpoint, CheckpointStore, origin_for
from archive.audit.log import GENESIS_PREV
from archive.audit.merkle import MerkleBuilder, leaf_hash
from archive.audit.note import Signer
from archive.audit.verify import verify_log

VAULT = "5b0d6c1e2f3a4b5c6d7e8f9012345678"
SEED = bytes(range(32))
ACTORS = [("张三", "head"), ("李四", "archivist"), ("王五", "social_worker"), ("赵六", "supervisor")]
ACTIONS = ["record.get", "record.file", "search", "record.show", "access.view", "access.approve"]


def generate(path: Path, n: int, rng: random.Random) -> tuple[int, bytes]:
    """Write n chained lines; return (size, root) for the checkpoint."""
    signer = Signer(origin_for(VAULT), SEED)
    builder = MerkleBuilder()
    prev = GENESIS_PREV
    t0 = 1_795_850_000
    with open(path, "wb", buffering=1 << 20) as f:
        for seq in range(n):
            actor, role = ACTORS[seq % len(ACTORS)]
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + seq * 7))
            if seq == 0:
                obj = {"v": 1, "seq": 0, "ts": ts, "prev": prev, "actor": actor, "role": role,
                       "action": "genesis", "ref": None, "detail": None, "vault": VAULT,
                       "key": signer.verifier_key()}
            else:
                detail = None
                if seq % 3 == 0:
                    detail = base64.b64encode(rng.randbytes(12 + 16 + rng.randrange(40, 160))).decode()
                obj = {"v": 1, "seq": seq, "ts": ts, "prev": prev, "actor": actor, "role": role,
                       "action": ACTIONS[seq % len(ACTIONS)],
                       "ref": f"Z001-WS·2026-D30-FW-{seq % 10000:04d}", "detail": detail}
            line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
            f.write(line + b"\n")
            prev = hashlib.sha256(line).hexdigest()
            builder.append(leaf_hash(line))
    return builder.size, builder.root()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path, default=None, help="write the log here instead of a temp dir")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = args.keep or Path(tmp)
        d.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        size, root = generate(d / "log.jsonl", args.entries, random.Random(1))
        note = Signer(origin_for(VAULT), SEED).sign(Checkpoint(origin_for(VAULT), size, root).body())
        CheckpointStore(d).store(size, note, export=True)
        gen_s = time.perf_counter() - t
        nbytes = (d / "log.jsonl").stat().st_size

        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        rep = verify_log(d)
        verify_s = time.perf_counter() - t
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert rep.entries == size and rep.root == root and rep.uncovered == 0

        t = time.perf_counter()
        h = hashlib.sha256()
        with open(d / "log.jsonl", "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        sha_s = time.perf_counter() - t

    print(f"entries            {size:,}  ({nbytes / 1e6:.1f} MB, generated in {gen_s:.1f} s)")
    print(f"verify_log         {verify_s:.2f} s  ({size / verify_s:,.0f} entries/s)")
    print(f"plain SHA-256      {sha_s:.3f} s  ({nbytes / sha_s / 1e6:.0f} MB/s)")
    print(f"ratio              verify is {verify_s / sha_s:.0f}x plain SHA-256")
    print(f"max RSS            {rss0 / 1024:.0f} MiB before verify, {rss1 / 1024:.0f} MiB after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
