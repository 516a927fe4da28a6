"""Vault format 2 key costs: unlock (key bag), sealed fields per record (public-key vs
symmetric form), object identity wrap/re-wrap, catalogue re-key — projected to 50,000 records.

Usage (from the repo root): PYTHONPATH=. python bench/bench_vault2_keys.py [--n 5000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from archive.catalog.db import Database
from archive.crypto import age
from archive.vault.keybag import KeyBag, create_vault_keys
from archive.vault.keyring2 import KeyringV2, unwrap_identity, wrap_identity
from archive.vault.revocation import rekey_catalogue
from archive.vault.sealed import FieldSealer
from archive.vault.userkeys import UserKeys

VID = "0123456789abcdef0123456789abcdef"
FIELDS = {"title": "王秀英家庭走访记录（第三次）", "doc_no": "奢社〔2026〕12号", "author": "李四",
          "note": "低保边缘户，临时救助金申请已递交", "household": "H-0001"}


def per_item(fn: object, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)  # type: ignore[operator]
    return (time.perf_counter() - start) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    n = args.n
    bag, head, _rec = create_vault_keys(VID, "zhangsan", "head")
    for _ in range(5):  # a vault that has seen a few revocations
        for comp in ("catalogue", "general", "service"):
            bag.rotate(comp)
    raw = bag.ring.to_bytes(bag.station_signer())
    t = time.perf_counter()
    for _ in range(20):
        KeyBag.unlock(KeyringV2.from_bytes(raw, station_root=head.station_root), head)
    unlock = (time.perf_counter() - t) / 20
    print(f"unlock (verify keyring + open 7 compartments, 6 epochs each of 3): {unlock * 1e3:.1f} ms")

    arch = UserKeys.generate(VID, "wangwu", head.station_root)
    bag.add_member("wangwu", arch.recipient, arch.signing.public, "archivist")
    member = FieldSealer(bag.ring, bag)
    filer = FieldSealer(bag.ring, KeyBag.unlock(KeyringV2.from_bytes(
        bag.ring.to_bytes(bag.station_signer()), station_root=head.station_root), arch))
    sym = [member.seal("service", f"R{i}", FIELDS) for i in range(n)]
    pub = [filer.seal("service", f"R{i}", FIELDS) for i in range(n)]
    s_seal = per_item(lambda i: member.seal("service", f"R{i}", FIELDS), n)
    p_seal = per_item(lambda i: filer.seal("service", f"R{i}", FIELDS), n)
    s_open = per_item(lambda i: member.open("service", sym[i][0], f"R{i}", sym[i][1]), n)
    p_open = per_item(lambda i: member.open("service", pub[i][0], f"R{i}", pub[i][1]), n)
    print(f"seal  symmetric {s_seal * 1e6:6.0f} µs   public-key {p_seal * 1e6:6.0f} µs per record")
    print(f"open  symmetric {s_open * 1e6:6.0f} µs   public-key {p_open * 1e6:6.0f} µs per record")
    print(f"  → listing 50,000 records: {s_open * 5e4:.2f} s settled vs {p_open * 5e4:.2f} s unsettled")

    ident = age.X25519Identity.generate()
    rcpt = bag.ring.recipient("service")
    wraps = [wrap_identity(ident, [rcpt]) for _ in range(n)]
    cur = bag.identity("service", bag.ring.current("service"))
    w = per_item(lambda i: wrap_identity(ident, [rcpt]), n)
    u = per_item(lambda i: unwrap_identity(wraps[i], [cur]), n)
    print(f"object identity wrap {w * 1e6:.0f} µs, unwrap {u * 1e6:.0f} µs"
          f"  → --rewrap of 50,000 objects ≈ {(w + u) * 5e4:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.db"
        db = Database(path, bag.catalog_keys()[-1][1], create=True)
        db.execute("CREATE TABLE t (x BLOB)")
        with db.transaction():
            for _ in range(50_000):
                db.execute("INSERT INTO t VALUES (?)", (os.urandom(600),))
        size = path.stat().st_size
        t = time.perf_counter()
        rekey_catalogue(db, bag)
        print(f"catalogue re-key after a removal: {time.perf_counter() - t:.2f} s "
              f"for {size / 2**20:.0f} MiB (50,000 rows of 600 B)")
        db.close()


if __name__ == "__main__":
    main()
