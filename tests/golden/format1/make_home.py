"""Generate the golden format-1 station home used by the upgrade and attack tests.

Run with the format-1 code (sgz 0.1, commit e707b80 of main) from the repository root:
    PYTHONPATH=. python tests/golden/format1/make_home.py tests/golden/format1/home
The home is committed, so the tests do not depend on format-1 code staying in the tree.
A format-1 backup of (a copy of) that home, made by the same format-1 code:
    PYTHONPATH=. python tests/golden/format1/make_home.py --backup tests/golden/format1/home \
        tests/golden/format1/backup
Credentials (test-only): every user's passphrase is PASSPHRASE below; the recovery code is
written to recovery.txt next to the home. scrypt work factor 10 (cheap, test-only).
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

PASSPHRASE = "correct-horse-battery"
WORK_FACTOR = 10
USERS = [("lisi", "social_worker"), ("wangwu", "archivist"), ("zhaoliu", "supervisor"),
         ("sunqi", "authority"), ("zhouba", "deputy")]
# Canary strings: none may appear in clear anywhere under the home.
DOCS = [
    # (file name, content, category, title, household, secrecy, responsible, author)
    ("fw1.txt", "服务记录：王秀英，身份证220112195803150027，低保边缘户，临时救助金申请。",
     "FW", "王秀英家庭走访记录", "H-0001", "", "lisi", "李四"),
    ("fw2.txt", "个案记录：刘建国，独居老人，每周探访，血压偏高。", "FW", "刘建国个案服务计划",
     "H-0002", "", "lisi", "李四"),
    ("xz1.txt", "社工站工作制度：每周一例会，档案管理员负责归档。", "XZ", "社工站例会制度",
     "", "", "", "张三"),
    ("rs1.txt", "人事档案：赵六，督导，聘用合同三年，月薪五千元。", "RS", "赵六聘用合同",
     "", "", "", "张三"),
    ("cw1.txt", "财务凭证：购置档案柜两个，金额一千二百元。", "CW", "档案柜采购凭证",
     "", "", "", "王五"),
    ("mm1.txt", "涉密材料：核对名单周建华，未公开。", "XZ", "周建华核查名单（秘密）",
     "", "秘密", "", "张三"),
]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def main(out: Path) -> None:
    from archive.core import Archive

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    src = out.parent / "src"
    src.mkdir(exist_ok=True)
    clock = Clock()
    arc, code = Archive.init(out, user="zhangsan", role="head", passphrase=PASSPHRASE,
                             clock=clock, kdf_work_factor=WORK_FACTOR)
    for name, role in USERS:
        arc.add_user(name, role, PASSPHRASE)
    for fname, text, cat, title, hh, secrecy, resp, author in DOCS:
        p = src / fname
        p.write_text(text, encoding="utf-8")
        arc.file([p], category=cat, title=title, year=2026, retention="D30", date="2026-10-08",
                 household=hh, secrecy=secrecy, responsible=resp or None, author=author,
                 note="备注：" + title)
    arc.close()
    shutil.rmtree(src)
    (out.parent / "recovery.txt").write_text(code + "\n", encoding="utf-8")
    for junk in out.rglob("*.lock"):
        junk.unlink()


def backup(home: Path, dest: Path) -> None:
    import tempfile

    from archive.core import Archive

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "home"
        shutil.copytree(home, work)
        arc = Archive.unlock(work, user="zhangsan", passphrase=PASSPHRASE,
                             kdf_work_factor=WORK_FACTOR)
        arc.backup(dest)
        arc.close()


if __name__ == "__main__":
    if sys.argv[1] == "--backup":
        backup(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main(Path(sys.argv[1]))
