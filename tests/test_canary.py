"""Nothing readable at rest: canaries filed in documents and metadata never appear in clear
under the station home or TMPDIR, in UTF-8 or UTF-16 (DESIGN §3)."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from conftest import run_sgz, sgz_env

CANARIES = [
    "欧阳娜娜",                      # a client's name
    "220102198805061234",            # 18-digit ID number
    "13912345678",                   # phone
    "低保边缘户需要临时救助金",        # a phrase
    "H-CANARY-0042",                 # household id
]


def _needles() -> list[bytes]:
    out = []
    for c in CANARIES:
        out += [c.encode("utf-8"), c.encode("utf-16-le"), c.encode("utf-16-be")]
    return out


def scan(roots: list[Path]) -> list[tuple[str, str]]:
    hits = []
    needles = _needles()
    for root in roots:
        for p in root.rglob("*"):
            if not p.is_file():
                continue
            data = p.read_bytes()
            for n in needles:
                if n in data:
                    hits.append((str(p), n.decode("utf-8", "replace")))
    return hits


def loose_modes(roots: list[Path]) -> list[str]:
    """Everything sgz wrote that another account could read: not 0700 folders / 0600 files."""
    out = []
    for root in roots:
        for p in [root, *root.rglob("*")] if root.is_dir() else [root]:
            mode = stat.S_IMODE(os.lstat(p).st_mode)
            if mode != (0o700 if p.is_dir() else 0o600):
                out.append(f"{oct(mode)} {p}")
    return out


def _docx_with_canaries() -> bytes:
    import docx

    d = docx.Document()
    d.core_properties.title = "入户走访记录"
    d.core_properties.author = CANARIES[0]
    d.add_paragraph(f"服务对象：{CANARIES[0]}，身份证号 {CANARIES[1]}，电话 {CANARIES[2]}。")
    d.add_paragraph(CANARIES[3])
    t = d.add_table(rows=1, cols=2)
    t.cell(0, 0).text = "户号"
    t.cell(0, 1).text = CANARIES[4]
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_canaries_never_at_rest(home: Path, tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    env = sgz_env(home, TMPDIR=str(tmpdir))
    assert run_sgz(["init", "--user", "zhangsan", "--role", "head"], env).returncode == 0
    doc = outside / f"{CANARIES[0]}走访.docx"
    doc.write_bytes(_docx_with_canaries())
    txt = outside / "记录.txt"
    txt.write_text("\n".join(CANARIES), encoding="utf-16")
    steps = [
        ["file", str(doc), "--category", "服务", "--household", CANARIES[4],
         "--title", f"{CANARIES[0]}家庭入户走访记录", "--note", CANARIES[3]],
        ["file", str(txt), "--category", "FW", "--doc-no", CANARIES[2], "--author", CANARIES[0]],
        ["ls"], ["ls", "--json"], ["show", "Z001-WS·2026-D30-FW-0001"],
        ["get", "Z001-WS·2026-D30-FW-0001", "-o", str(outside / "back.docx"), "--reason",
         f"为{CANARIES[0]}办理转介"],
        ["user", "add", "lisi", "--role", "social_worker", "--display", CANARIES[0]],
        ["user", "list"],
        ["access", "request", "--unit", f"{CANARIES[0]}所在单位", "--letter", str(txt),
         "--purpose", CANARIES[3], "--items", "Z001-WS·2026-D30-FW-0001",
         "--applicant", CANARIES[0], "--phone", CANARIES[2]],
        ["access", "list"], ["access", "list", "--json"], ["access", "show", "CY-2026-0001"],
        ["access", "register", "-o", str(outside / "登记.docx")],
        ["subject", "export", "--household", CANARIES[4], "-o", str(outside / "subject"),
         "--reason", "服务对象本人申请"],
        ["refer", "--household", CANARIES[4], "--to", "区残联", "-o", str(outside / "refer"),
         "--override-reason", f"{CANARIES[0]}有自伤风险"],
        ["access", "flags"],
        ["export", "Z001-WS·2026-D30-FW-0001", "--anonymize", "-o", str(outside / "anon"),
         "--names", CANARIES[0]],
    ]
    for extra in (["search", CANARIES[0]], ["index", "rebuild"], ["audit", "log"],
                  ["audit", "verify"], ["audit", "checkpoint"], ["check", "--read-data"]):
        steps.append(extra)
    steps += [["audit", "log", "--json"], ["backup", str(tmpdir / "bk")],
              ["backup", "verify", str(tmpdir / "bk")],
              ["restore", str(tmpdir / "bk"), "--home", str(tmpdir / "restored")],
              ["--home", str(tmpdir / "restored"), "check", "--read-data"], ["keys", "rotate"],
              ["check", "--read-data", "--subset", "50%"]]
    steps += [  # retention and witnessed destruction (the 清册 lists titles; filed encrypted)
        ["hold", "add", "Z001-WS·2026-D30-FW-0001", "--reason", f"{CANARIES[0]}投诉未结"],
        ["hold", "list"], ["retention", "due", "--as-of", "2060-01-01"],
        ["hold", "remove", "Z001-WS·2026-D30-FW-0001", "--reason", "投诉已办结"],
        ["disposal", "propose", "Z001-WS·2026-D30-FW-0002", "--appraisal-note",
         f"经鉴定为重复件：{CANARIES[3]}"],
        ["disposal", "approve", "XH-2026-0001"],
        ["disposal", "execute", "XH-2026-0001", "--witness", "李四", "--witness", "赵敏"],
        ["disposal", "show", "XH-2026-0001"], ["disposal", "list", "--json"],
    ]
    for args in steps:
        r = run_sgz(args, env)
        assert r.returncode == 0, (args, r.stderr)
    assert (outside / "back.docx").read_bytes() == doc.read_bytes()
    hits = scan([home, tmpdir])
    assert hits == [], hits
    # finding 4: the home, the backup, the restored home and every plaintext output are private
    # whatever the umask (the inputs written by this test are not sgz's and are left out)
    outputs = [outside / n for n in ("back.docx", "登记.docx", "subject", "refer", "anon")]
    assert loose_modes([home, tmpdir / "bk", tmpdir / "restored", *outputs]) == []
    # the scanner itself works: the exported plaintext outside the home does contain them
    assert scan([outside])
