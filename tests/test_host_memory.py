"""What the computer may do with an unlocked process's memory: swap areas and core files.

The swap tests read a copy of the two Linux files sgz reads (/proc/swaps and the sysfs block
tree), laid out as a machine with a plain partition, zram and LVM over LUKS has them.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CHEAP_WF, PASS, REPO

from archive.host import memory
from archive.host.memory import SwapArea, swap_areas, swap_note

HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"


def _machine(tmp: Path, lines: list[str]) -> tuple[Path, Path]:
    """proc/swaps and a sysfs tree: sda3 a plain partition, dm-1 LUKS, dm-2 LVM on dm-1,
    dm-3 LVM on sda4 (plain)."""
    proc, sys_root = tmp / "proc", tmp / "sys"
    proc.mkdir()
    (proc / "swaps").write_text(HEADER + "".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    block = sys_root / "class" / "block"
    for name, uuid, slaves in (("sda3", None, []), ("sda4", None, []),
                               ("dm-1", "CRYPT-LUKS2-6f1c-root", ["sda4"]),
                               ("dm-2", "LVM-Hk2JzQ", ["dm-1"]), ("dm-3", "LVM-a81Lc0", ["sda4"]),
                               ("zram0", None, [])):
        d = block / name
        d.mkdir(parents=True)
        if uuid:
            (d / "dm").mkdir()
            (d / "dm" / "uuid").write_text(uuid + "\n", encoding="utf-8")
        if slaves:
            (d / "slaves").mkdir()
            for s in slaves:
                (d / "slaves" / s).symlink_to(block / s)
    (sys_root / "dev" / "block").mkdir(parents=True)
    return proc, sys_root


def test_swap_areas_tell_encrypted_from_plain(tmp_path: Path) -> None:
    proc, sys_root = _machine(tmp_path, [
        "/dev/sda3                               partition\t8388604\t\t0\t\t-2",
        "/dev/dm-2                               partition\t2097148\t\t0\t\t-3",
        "/dev/dm-3                               partition\t2097148\t\t0\t\t-4",
        "/dev/zram0                              partition\t4194300\t\t0\t\t100",
        "/dev/nvme9n9p9                          partition\t1048572\t\t0\t\t-5",
    ])
    areas = {a.name: a for a in swap_areas(proc, sys_root) or []}
    assert areas["/dev/sda3"] == SwapArea("/dev/sda3", "partition", False, False)
    assert areas["/dev/dm-2"].encrypted is True  # LVM on LUKS: found through slaves/
    assert areas["/dev/dm-3"].encrypted is False  # LVM on a plain partition
    assert areas["/dev/zram0"].in_memory and not areas["/dev/zram0"].exposed
    assert areas["/dev/nvme9n9p9"].encrypted is None  # not in sysfs: cannot tell, not accused
    assert [n for n, a in areas.items() if a.exposed] == ["/dev/sda3", "/dev/dm-3"]


def test_a_swap_file_is_judged_by_the_device_its_file_system_is_on(tmp_path: Path) -> None:
    swapfile = tmp_path / "my swap"  # /proc/swaps writes the space as \040
    swapfile.write_bytes(b"\0" * 4096)
    proc, sys_root = _machine(tmp_path, [f"{str(swapfile).replace(' ', chr(92) + '040')}"
                                         "                file\t4\t0\t-2"])
    dev = os.stat(swapfile).st_dev
    link = sys_root / "dev" / "block" / f"{os.major(dev)}:{os.minor(dev)}"
    link.symlink_to(sys_root / "class" / "block" / "dm-2")
    [area] = swap_areas(proc, sys_root) or []
    assert (area.name, area.kind) == (str(swapfile), "file")
    # a file system with no block device of its own (major 0: tmpfs, btrfs) cannot be judged
    assert area.encrypted is (None if os.major(dev) == 0 else True)
    link.unlink()
    link.symlink_to(sys_root / "class" / "block" / "sda3")
    [area] = swap_areas(proc, sys_root) or []
    assert area.encrypted is (None if os.major(dev) == 0 else False)


def test_no_proc_swaps_means_not_checked(tmp_path: Path) -> None:
    assert swap_areas(tmp_path / "nothing", tmp_path) is None
    assert swap_note(None, None) is None


def test_swap_note_names_the_exposed_areas_and_the_lock_limit() -> None:
    areas = [SwapArea("/dev/sda3", "partition", False, False),
             SwapArea("/dev/zram0", "partition", True, None),
             SwapArea("/dev/dm-2", "partition", False, True)]
    note = swap_note(areas, 8 * 1024 * 1024) or ""
    assert "/dev/sda3" in note and "zram0" not in note and "dm-2" not in note
    assert "8 MiB" in note and "加密交换区" in note and "threat-model" in note
    assert "64 KiB" in (swap_note(areas, 64 * 1024) or "")  # the old Linux default
    assert swap_note(areas[1:], None) is None


def test_check_notes_an_unencrypted_swap_area(arc, tmp_path: Path, monkeypatch) -> None:
    assert not any("交换区" in n for n in arc.maintenance.check().notes)  # type: ignore[attr-defined]
    proc, sys_root = _machine(tmp_path, ["/dev/sda3  partition\t8388604\t0\t-2"])
    monkeypatch.setattr(memory, "PROC", proc)
    monkeypatch.setattr(memory, "SYS", sys_root)
    rep = arc.maintenance.check()  # type: ignore[attr-defined]
    assert rep.ok and any("交换区未加密：/dev/sda3" in n for n in rep.notes)


def test_an_unlocked_archive_writes_no_core_file(home: Path, clock, monkeypatch) -> None:
    from archive.app import Archive

    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (min(hard, 1 << 20), hard))
        a, _ = Archive.init(home, user="zhangsan", role="head", passphrase=PASS, clock=clock,
                            kdf_work_factor=CHEAP_WF)
        assert resource.getrlimit(resource.RLIMIT_CORE) == (0, hard)
        a.close()
        resource.setrlimit(resource.RLIMIT_CORE, (min(hard, 1 << 20), hard))
        Archive.unlock(home, user="zhangsan", passphrase=PASS, clock=clock,
                       kdf_work_factor=CHEAP_WF).close()
        assert resource.getrlimit(resource.RLIMIT_CORE) == (0, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


@pytest.mark.skipif(resource.getrlimit(resource.RLIMIT_CORE)[1] == 0,
                    reason="core files are already forbidden for this test process")
def test_the_cli_forbids_core_files_before_reading_a_passphrase() -> None:
    code = ("import resource, sys\n"
            "from archive.cli.main import main\n"
            "h = resource.getrlimit(resource.RLIMIT_CORE)[1]\n"
            "resource.setrlimit(resource.RLIMIT_CORE, (min(h, 1 << 20), h))\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(resource.getrlimit(resource.RLIMIT_CORE)[0], file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       check=True)
    assert r.stderr.strip().splitlines()[-1] == "0"


def test_the_locking_regime_is_read_from_the_effective_capabilities(tmp_path: Path) -> None:
    (tmp_path / "self").mkdir()
    status = tmp_path / "self" / "status"
    status.write_text("Name:\tpython\nCapEff:\t000001ffffffffff\n", encoding="utf-8")
    assert memory.may_lock_everything(tmp_path)
    status.write_text("Name:\tpython\nCapEff:\t000001fffeffbfff\n", encoding="utf-8")  # no bit 14
    assert memory.may_lock_everything(tmp_path) is (memory.memlock_limit() is None)
    assert memory.locking_summary().startswith("memory locking: ")


def test_free_heap_pages_go_back_to_the_system_after_a_thread_freed_them() -> None:
    """A phrase index build frees millions of small blocks on its own thread; glibc keeps
    them in that thread's arena until malloc_trim gives them back."""
    import threading

    import psutil

    from archive.host.memory import return_free_memory

    def churn() -> None:
        blocks = [bytes(1000) + str(i).encode() for i in range(300_000)]  # ~290 MiB, via malloc
        del blocks

    proc = psutil.Process()
    before = proc.memory_info().rss
    worker = threading.Thread(target=churn)
    worker.start()
    worker.join()
    kept = proc.memory_info().rss - before
    assert return_free_memory() is True  # this is Linux with glibc
    after = proc.memory_info().rss - before
    assert kept > 100 * 2**20, kept >> 20  # the arena kept them
    assert after < kept / 2, (kept >> 20, after >> 20)
