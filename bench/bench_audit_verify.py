"""Bench: verify a 1,000,000-entry signed (format 2) audit log, against the unavoidable work
measured in the same run (SHA-256 over the file's bytes + one Ed25519 verification per
signature, single-threaded); then the monitor's cost at unlock with 0 vs 100,000 entries no
checkpoint covers, and with 100,000 entries new to the user.

Usage (from the repo root): PYTHONPATH=. python bench/bench_audit_verify.py [--entries N] [--uncovered U]
The generator writes realistic, correctly chained and signed lines directly (no fsync per line):
batches of 1 (80 %), 2 (18 %) or 20 (2 %) lines, one signature each; a third of the lines carry
a sealed detail of typical size (random base64: verification never opens details).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from archive.audit.checkpoint import Checkpoint, CheckpointStore, origin_for
from archive.audit.head import Head
from archive.audit.line import (
    DOMAIN_ENTRY,
    DOMAIN_STATION,
    GENESIS_PREV,
    Fields,
    b64,
    close,
    prefix,
    with_ssig,
)
from archive.audit.log import AuditLog, station_verifier_key
from archive.audit.merkle import MerkleBuilder, leaf_hash
from archive.audit.monitor import Monitor
from archive.audit.note import Signer
from archive.audit.verify import verify_log
from archive.crypto.age import X25519Identity
from archive.crypto.ed25519 import SigningKey, VerifyKey

VAULT = "5b0d6c1e2f3a4b5c6d7e8f9012345678"
STATION = bytes(range(32))
USERS = [("张三", "head"), ("李四", "archivist"), ("王五", "social_worker"), ("赵六", "supervisor")]
SEEDS = {name: hashlib.sha256(name.encode()).digest() for name, _ in USERS}
ACTIONS = ["record.get", "record.file", "search", "record.show", "access.view", "access.approve"]


def generate(path: Path, n: int, rng: random.Random, marks: set[int]
             ) -> tuple[int, dict[int, bytes], dict[int, Head]]:
    """Write n chained, signed lines; return (signatures written, roots and heads at the sizes
    in `marks`)."""
    keys = {name: SigningKey(s) for name, s in SEEDS.items()}
    station = SigningKey(STATION)
    builder = MerkleBuilder()
    roots: dict[int, bytes] = {}
    heads: dict[int, Head] = {}
    sigs = 0
    offset = 0
    prev = GENESIS_PREV
    t0 = 1_795_850_000

    def ts(seq: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + seq * 7))

    with open(path, "wb", buffering=1 << 20) as f:
        def emit(line: bytes) -> None:
            nonlocal prev, offset
            f.write(line + b"\n")
            offset += len(line) + 1
            leaf = leaf_hash(line)
            prev = leaf.hex()
            builder.append(leaf)
            if builder.size in marks:
                roots[builder.size] = builder.root()
                heads[builder.size] = Head(
                    vault=VAULT, size=builder.size, offset=offset, last_leaf=leaf,
                    last_len=len(line) + 1, frontier=list(builder._stack), fmt=2,
                    users={nm: (r, keys[nm].public) for nm, r in USERS},
                    stations=[(1, station_verifier_key(VAULT, STATION))])

        head, role = USERS[0]
        g = Fields(actor=head, role=role, action="genesis", vault=VAULT,
                   station=station_verifier_key(VAULT, STATION), pub=b64(keys[head].public))
        pre = prefix(0, ts(0), prev, g)
        pre = with_ssig(pre, station.sign(DOMAIN_STATION + pre))
        emit(close(pre, keys[head].sign(DOMAIN_ENTRY + pre)))
        sigs += 1
        for name, r in USERS[1:]:
            u = Fields(actor=head, role=role, action="user.add", ref=name, grant=r, pub=b64(keys[name].public))
            pre = prefix(builder.size, ts(builder.size), prev, u)
            pre = with_ssig(pre, station.sign(DOMAIN_STATION + pre))
            emit(close(pre, keys[head].sign(DOMAIN_ENTRY + pre)))
            sigs += 1
        while builder.size < n:
            x = rng.random()
            size = 1 if x < 0.80 else 2 if x < 0.98 else 20
            size = min(size, n - builder.size)
            actor, r = USERS[rng.randrange(len(USERS))]
            for k in range(size):
                seq = builder.size
                detail = None
                if seq % 3 == 0:
                    detail = base64.b64encode(rng.randbytes(rng.randrange(240, 360))).decode()
                fl = Fields(actor=actor, role=r, action=ACTIONS[seq % len(ACTIONS)],
                            ref=f"Z001-WS·2026-D30-FW-{seq % 10000:04d}", detail=detail)
                pre = prefix(seq, ts(seq), prev, fl)
                if k == size - 1:
                    emit(close(pre, keys[actor].sign(DOMAIN_ENTRY + pre)))
                    sigs += 1
                else:
                    emit(close(pre, None))
    return sigs, roots, heads


def store_checkpoint(d: Path, size: int, root: bytes) -> None:
    origin = origin_for(VAULT)
    note = Signer(origin, STATION).sign(Checkpoint(origin, size, root).body())
    CheckpointStore(d).store(size, note, export=True)


def unavoidable(path: Path, sigs: int) -> tuple[float, float]:
    """(SHA-256 over the file, `sigs` Ed25519 verifications of a ~300-byte message), 1 thread."""
    t = time.perf_counter()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    sha_s = time.perf_counter() - t
    k = SigningKey(SEEDS["李四"])
    msg = DOMAIN_ENTRY + b"x" * 300
    sig = k.sign(msg)
    vk = VerifyKey(k.public)
    t = time.perf_counter()
    for _ in range(sigs):
        vk.verify(sig, msg)
    return sha_s, time.perf_counter() - t


def time_monitor(d: Path, head: Head, state: Path, ident: X25519Identity, reps: int = 15) -> float:
    """Median time of Monitor.check_and_update for a user whose state is `head`."""
    log = AuditLog(d, vault_id=VAULT, signer=("王五", SEEDS["王五"]), clock=lambda: 0)  # type: ignore[arg-type,return-value]
    times = []
    for _ in range(reps):
        Monitor.seed(head, state, user="王五", vault_id=VAULT, seed=SEEDS["王五"], recipient=ident.recipient())
        t = time.perf_counter()
        Monitor.check_and_update(log, ident, state)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def copy_head(h: Head) -> Head:
    return Head.from_json(h.to_json())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--uncovered", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, default=None, help="write the log here instead of a temp dir")
    args = ap.parse_args()
    n, u = args.entries, args.uncovered
    with tempfile.TemporaryDirectory() as tmp:
        d = args.keep or Path(tmp) / "audit"
        d.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        sigs, roots, heads = generate(d / "log.jsonl", n, random.Random(1), {n - u, n})
        gen_s = time.perf_counter() - t
        nbytes = (d / "log.jsonl").stat().st_size
        store_checkpoint(d, n, roots[n])

        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        rep = verify_log(d, threads=2)
        verify2_s = time.perf_counter() - t
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert rep.entries == n and rep.root == roots[n] and rep.complete
        t = time.perf_counter()
        verify_log(d, threads=1)
        verify1_s = time.perf_counter() - t
        sha_s, ed_s = unavoidable(d / "log.jsonl", sigs)
        floor = sha_s + ed_s

        # --- unlock: the monitor check with 0 vs `u` entries no checkpoint covers ---------------
        ident = X25519Identity.generate()
        state = d.parent / "seen.age"
        full = rep.head  # cp at n
        t_cov = time_monitor(d, copy_head(full), state, ident)
        (d / "checkpoints" / f"{n:012d}.note").unlink()
        (d / "checkpoints" / f"{n:012d}.exported").unlink()
        store_checkpoint(d, n - u, roots[n - u])
        part = copy_head(full)
        part.cp_size, part.cp_root, part.uncovered_ts = n - u, roots[n - u], "2026-11-28T00:00:00Z"
        t_unc = time_monitor(d, part, state, ident)
        # a user who last saw n - u entries reads exactly those u lines
        behind = heads[n - u]
        behind.cp_size, behind.cp_root = n - u, roots[n - u]
        t_behind = time_monitor(d, behind, state, ident, reps=1)

    print(f"entries            {n:,}  ({nbytes / 1e6:.1f} MB, {sigs:,} signatures; generated in {gen_s:.1f} s)")
    print(f"verify_log         {verify2_s:.2f} s with 2 threads ({n / verify2_s:,.0f} entries/s); "
          f"{verify1_s:.2f} s with 1 thread")
    print(f"unavoidable        {floor:.2f} s = SHA-256 of the file {sha_s:.2f} s + {sigs:,} Ed25519 "
          f"verifications {ed_s:.2f} s (1 thread)")
    print(f"ratio              verify / unavoidable = {verify2_s / floor:.2f} (2 threads), "
          f"{verify1_s / floor:.2f} (1 thread)")
    print(f"max RSS            {rss0 / 1024:.0f} MiB before verify, {rss1 / 1024:.0f} MiB after")
    print(f"unlock check       {t_cov * 1000:.1f} ms with 0 uncovered entries, "
          f"{t_unc * 1000:.1f} ms with {u:,} uncovered (user had seen them all)")
    print(f"unlock, behind     {t_behind:.2f} s for a user who last saw {n - u:,} ({u:,} new lines to verify)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
