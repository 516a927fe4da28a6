"""`sgz transfer export|verify` end to end through the CLI on a demo year (issue 15)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import run_sgz, sgz_env
from lxml import etree
from transfer_fixtures import pdf_bytes, scan_bytes

from archive.app import Archive
from archive.transfer.model import CATALOGUE, OTHER_DIR, RECORDS_DIR, REGISTER, SCHEMAS

pytestmark = pytest.mark.slow  # many `sgz` processes; the in-process tests are in
# test_archival_wiring.py


@pytest.fixture
def demo_home(tmp_path: Path) -> tuple[Path, dict[str, str], list[str]]:
    home, src = tmp_path / "station", tmp_path / "src"
    src.mkdir()
    env = sgz_env(home)
    assert run_sgz(["init", "--user", "zhangsan", "--role", "head"], env).returncode == 0
    for i in range(1, 5):
        (src / f"通知{i}.pdf").write_bytes(pdf_bytes(f"关于第{i}号救助的通知", 2))
    r = run_sgz(["file", *sorted(map(str, src.glob("*.pdf"))), "--category", "FW", "--year",
                 "2026", "--retention", "D30", "--no-index"], env)
    assert r.returncode == 0, r.stderr
    refs = r.stdout.split()
    r = run_sgz(["stamp", "--status"], env)  # a few items: stamped at filing
    assert r.returncode == 0 and "已制作 4 件，待制作 0 件" in r.stdout, r.stdout
    (src / "扫描.jpg").write_bytes(scan_bytes(5))
    r = run_sgz(["file", str(src / "扫描.jpg"), "--of", refs[0], "--kind", "签字扫描件",
                 "--no-index"], env)
    assert r.returncode == 0, r.stderr
    return home, env, refs


def _validate(pkg: Path) -> int:
    """Every XML of the package against the XSDs shipped in 其他/ (not sgz's checker)."""
    schema = {k: etree.XMLSchema(etree.parse(str(pkg / OTHER_DIR / v))) for k, v in SCHEMAS.items()}
    n = 0
    for path, key in [(pkg / CATALOGUE, CATALOGUE), (pkg / OTHER_DIR / REGISTER, REGISTER)] + [
            (p, "EEP") for p in (pkg / RECORDS_DIR).rglob("*.xml")]:
        schema[key].assertValid(etree.parse(str(path)))
        n += 1
    return n


def test_export_verify_and_tampering(demo_home: tuple[Path, dict[str, str], list[str]],
                                     tmp_path: Path) -> None:
    home, env, refs = demo_home
    pkg = tmp_path / "移交-2026"
    r = run_sgz(["transfer", "export", "--year", "2026", "-o", str(pkg), "--reason",
                 "2026年度档案进馆"], env)
    assert r.returncode == 0, r.stderr
    assert "四性检测：通过" in r.stderr
    assert _validate(pkg) == 2 + len(refs)
    item = pkg / RECORDS_DIR / "2026" / "FW" / refs[0]
    # the station's 归档PDF component is not carried: the package has its own rendition
    assert sorted(p.name for p in item.iterdir()) == [
        "01_正文.pdf", "02_签字扫描件.jpg", f"{refs[0]}.xml", "长期保存版本.pdf"]
    reg = (pkg / OTHER_DIR / REGISTER).read_text("utf-8")
    assert "2026年度档案进馆" in reg and "站长" in reg
    r = run_sgz(["transfer", "verify", str(pkg)], env)
    assert r.returncode == 0 and "结论：通过" in r.stdout

    # audited per item through the door, and on the head's list
    with Archive.unlock(home, user="zhangsan", passphrase=env["SGZ_PASSPHRASE"]) as arc:
        items = arc.audit.history(action="transfer.export.item")
        assert sorted({h["ref"] for h in items}) == sorted(refs) and len(items) == 5
        assert [f.action for f in arc.access.flags()] == ["transfer.export"]

    # a flipped byte in one component: exit 8, the item named
    victim = item / "02_签字扫描件.jpg"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    r = run_sgz(["transfer", "verify", str(pkg)], {k: v for k, v in env.items()
                                                   if not k.startswith("SGZ_")})
    assert r.returncode == 8 and refs[0] in r.stdout and "不通过" in r.stdout

    # a missing 件: exit 8, that item named
    pkg2 = tmp_path / "移交-2026-b"
    assert run_sgz(["transfer", "export", "--year", "2026", "-o", str(pkg2), "--reason", "复制",
                    "--no-renditions"], env).returncode == 0
    shutil.rmtree(pkg2 / RECORDS_DIR / "2026" / "FW" / refs[2])
    r = run_sgz(["transfer", "verify", str(pkg2), "--json"], env)
    assert r.returncode == 8 and refs[2] in r.stdout


def test_bagit_package_verifies(demo_home: tuple[Path, dict[str, str], list[str]],
                                tmp_path: Path) -> None:
    _home, env, refs = demo_home
    pkg = tmp_path / "bag"
    r = run_sgz(["transfer", "export", "--year", "2026", "-o", str(pkg), "--reason", "进馆",
                 "--bag", "--no-renditions"], env)
    assert r.returncode == 0, r.stderr
    assert (pkg / "bagit.txt").exists() and (pkg / "data" / CATALOGUE).exists()
    assert run_sgz(["transfer", "verify", str(pkg)], env).returncode == 0
    victim = next((pkg / "data" / RECORDS_DIR).rglob("01_正文.pdf"))
    victim.write_bytes(victim.read_bytes() + b"\n")
    r = run_sgz(["transfer", "verify", str(pkg)], env)
    assert r.returncode == 8 and any(ref in r.stdout for ref in refs)
