"""What this computer may do with sgz's memory: swap it to disk, or write it into a core file.

An unlocked sgz process holds keys and decrypted pages (SQLCipher's page caches: titles,
names, full text). SQLCipher's memory security locks SQLite's allocations in memory, but the
operating system grants a process only so much locked memory: on Linux a normal user's
RLIMIT_MEMLOCK (8 MiB by default), on Windows the process's minimum working set. Past that
limit the locks fail (measured: 95 % of a search's `mlock` calls returned ENOMEM for a normal
user), so most decrypted pages may be swapped out, or written to a hibernation image. sgz
cannot prevent that; it can say so (`sgz check` notes an unencrypted swap area, `swap_areas`)
and it keeps crashes from writing its memory to disk (`forbid_core_dumps`).
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

PROC, SYS = Path("/proc"), Path("/sys")  # where Linux tells; tests point them at a copy
ZRAM = re.compile(r"^/dev/zram\d+$")
_ESCAPE = re.compile(r"\\([0-7]{3})")  # /proc/swaps writes a space in a path as \040


@dataclass(frozen=True)
class SwapArea:
    """One line of /proc/swaps and what is under it."""

    name: str  # as /proc/swaps lists it (a device or a file)
    kind: str  # "partition" or "file"
    in_memory: bool  # zram: compressed RAM, never on a disk
    encrypted: bool | None  # on dm-crypt (directly or under LVM); None: could not tell

    @property
    def exposed(self) -> bool:
        """Pages swapped here reach a disk in clear."""
        return not self.in_memory and self.encrypted is False


def forbid_core_dumps() -> None:
    """Keep a crash of this process from writing its memory (keys, decrypted pages) to disk:
    the soft core-file limit 0 (the kernel writes no core file; systemd-coredump stores
    none for a process whose limit is 0). A no-op where there are no such limits (Windows)."""
    try:
        import resource
    except ImportError:  # Windows
        return
    with contextlib.suppress(ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))


def return_free_memory() -> bool:
    """Give the C heap's free pages back to the system (glibc `malloc_trim`), after work that
    freed much in small blocks on another thread (a phrase index build: its arena kept ~2x
    what the index holds). True when it ran; elsewhere (Windows, musl) nothing happens."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or not name.startswith("libc.so"):
        return False
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


def memlock_limit() -> int | None:
    """Bytes this process may lock in memory (None: unlimited, or no such limit here)."""
    try:
        import resource
    except ImportError:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def may_lock_everything(proc: Path | None = None) -> bool:
    """Whether this process may lock any amount of memory (root's CAP_IPC_LOCK, or no
    limit): then every SQLCipher lock succeeds, and each one costs the kernel a split of the
    memory map, which a normal user's failing locks do not (ADR 0005 round 5)."""
    with contextlib.suppress(OSError, ValueError):
        for line in ((proc or PROC) / "self" / "status").read_text(encoding="utf-8").splitlines():
            if line.startswith("CapEff:") and int(line.split()[1], 16) >> 14 & 1:  # CAP_IPC_LOCK
                return True
    return memlock_limit() is None


def locking_summary() -> str:
    """One line for a benchmark's output: which of the two regimes it measured."""
    if may_lock_everything():
        return "memory locking: unlimited (CAP_IPC_LOCK or no limit; every SQLCipher lock succeeds)"
    return (f"memory locking: limited to {_size(memlock_limit() or 0)} (a normal user: SQLCipher's"
            " locks past it fail at once)")


def swap_areas(proc: Path | None = None, sys_root: Path | None = None) -> list[SwapArea] | None:
    """The swap areas in use and whether each is encrypted; None where there is no
    /proc/swaps to read (not Linux)."""
    proc, sys_root = proc or PROC, sys_root or SYS
    try:
        lines = (proc / "swaps").read_text(encoding="utf-8").splitlines()[1:]
    except OSError:
        return None
    areas = []
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        name = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[0])
        kind = fields[1]
        if ZRAM.match(name):
            areas.append(SwapArea(name, kind, True, None))
            continue
        block = _block_dir(name, kind, sys_root)
        areas.append(SwapArea(name, kind, False, None if block is None else _on_dm_crypt(block)))
    return areas


def _block_dir(name: str, kind: str, sys_root: Path) -> Path | None:
    """The sysfs directory of the block device holding this swap area."""
    if kind == "partition":
        base = os.path.basename(os.path.realpath(name)) if name.startswith("/dev/") else ""
        path = sys_root / "class" / "block" / base
        return path if base and path.exists() else None
    try:
        dev = os.stat(name).st_dev
    except OSError:
        return None
    path = sys_root / "dev" / "block" / f"{os.major(dev)}:{os.minor(dev)}"
    return path if os.major(dev) and path.exists() else None  # major 0: btrfs, tmpfs …


def _on_dm_crypt(block: Path, depth: int = 0) -> bool:
    """Whether this block device, or one it is built on (LVM over LUKS), is dm-crypt."""
    with contextlib.suppress(OSError):
        if (block / "dm" / "uuid").read_text(encoding="utf-8").startswith("CRYPT-"):
            return True
    slaves = block / "slaves"
    if depth < 8 and slaves.is_dir():
        return any(_on_dm_crypt(s.resolve(), depth + 1) for s in slaves.iterdir())
    return False


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 else f"{n // 1024} KiB"


def swap_note(areas: list[SwapArea] | None, limit: int | None) -> str | None:
    """The `sgz check` note for swap areas that would hold decrypted pages in clear."""
    exposed = [a.name for a in areas or [] if a.exposed]
    if not exposed:
        return None
    locked = "" if limit is None else f"（本进程最多只能锁定 {_size(limit)} 内存，其余页面可被换出）"
    return (f"本机交换区未加密：{'、'.join(exposed)}。sgz 解锁期间解密的档案内容可能被系统换出，"
            f"以明文写入该磁盘{locked}。请改用加密交换区（或 zram），或关闭交换区；"
            "休眠镜像同理（见 docs/threat-model.md）")
