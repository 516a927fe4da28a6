"""`Kernel.visible`: the same answer as asking `may` record by record, for every role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import CHEAP_WF, PASS

from archive.fs.sources import InMemoryFile

ROLES = {"lisi": "archivist", "wangwu": "social_worker", "zhaoliu": "social_worker",
         "sunba": "supervisor", "minzheng": "authority", "qianqi": "deputy"}


def test_visible_matches_may_for_every_role(home: Path, clock: Any) -> None:
    from archive.app import Archive

    def unlock(user: str) -> Any:
        return Archive.unlock(home, user=user, passphrase=PASS, clock=clock,
                              kdf_work_factor=CHEAP_WF)

    a, _ = Archive.init(home, user="zhangsan", role="head", passphrase=PASS, clock=clock,
                        kdf_work_factor=CHEAP_WF)
    with a:
        for name, role in ROLES.items():
            a.users.add(name, role, PASS)
    n = 0

    def doc() -> InMemoryFile:
        nonlocal n
        n += 1
        return InMemoryFile(f"d{n}.txt", f"文档 {n}".encode())

    with unlock("wangwu") as sw:
        sw.records.file([doc(), doc()], category="FW", household="H-1")
    with unlock("zhaoliu") as sw:
        sw.records.file([doc()], category="FW", household="H-2")
    with unlock("lisi") as arch:
        arch.records.file([doc(), doc()], category="XZ")
        arch.records.file([doc()], category="XZ", secrecy="秘密")
        arch.records.file([doc()], category="RS")
        [cw] = arch.records.file([doc()], category="CW")
        arch.records.file([doc()], category="XZ", precious=True)
    with unlock("zhangsan") as head:
        head.holds.add(cw.ref, reason="审计")
    seen: dict[str, int] = {}
    for user in ("zhangsan", *ROLES):
        with unlock(user) as arc:
            k = arc.kernel
            every = list(k.records.list(status=None))
            seen[user] = len(k.visible("record.read", every))
            for action in ("record.read_meta", "record.read", "disposal.propose", "access.view"):
                assert [r.ref for r in k.visible(action, every)] == \
                    [r.ref for r in every if k.may(action, r)], (user, action)
            assert [r.ref for r in arc.records.ls()] == \
                [r.ref for r in every if k.may("record.read_meta", r)]
    assert seen["zhangsan"] > seen["wangwu"] > 0  # the roles really see different things
