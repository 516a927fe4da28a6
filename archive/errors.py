"""The one error hierarchy of the library; each family carries its CLI exit code (DESIGN §8).

Messages are Simplified Chinese and never contain secrets (passphrases, keys, plaintext).
Structured fields (ref, expected, found, details) let callers and tests inspect the cause.
A family is declared in one line: `class X(ArchiveError, code=N, message="默认说明")`;
a subclass without `code` keeps its family's exit code.
"""

from __future__ import annotations

import errno
from typing import Any, ClassVar


class ArchiveError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code: ClassVar[int] = 1
    message: ClassVar[str] = "内部错误"

    def __init_subclass__(cls, *, code: int | None = None, message: str | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.exit_code = code
        if message is not None:
            cls.message = message

    def __init__(
        self,
        message: str | None = None,
        *,
        ref: str | None = None,
        expected: Any = None,
        found: Any = None,
        details: Any = None,
    ) -> None:
        self.msg = message or self.message
        self.ref = ref
        self.expected = expected
        self.found = found
        self.details = details
        super().__init__(self.msg)

    def __str__(self) -> str:
        return self.msg


# One class per exit code (2–9); the docstring says when each is raised.

class UsageError(ArchiveError, code=2, message="用法错误"):
    """The call itself is malformed (bad option combination, bad argument form)."""


class NotFound(ArchiveError, code=3, message="未找到"):
    """A record, user, request, file or template does not exist."""


class Conflict(ArchiveError, code=4, message="状态冲突"):
    """The target already exists, is locked, or is in the wrong state for this action."""


class AccessDenied(ArchiveError, code=5, message="无权执行此操作"):
    """The policy refuses this user this action; the message names the rule."""


class ValidationError(ArchiveError, code=6, message="输入有误"):
    """Input failed validation; `details` lists every problem found (not only the first)."""


class DecryptionFailed(ArchiveError, code=7, message="解密失败：口令错误或数据已损坏"):
    """Wrong passphrase, wrong key or damaged ciphertext: deliberately indistinguishable."""


class IntegrityError(ArchiveError, code=8, message="完整性校验失败"):
    """Stored data or the audit log does not verify."""


class StorageError(ArchiveError, code=9, message="存储写入失败"):
    """The disk refused a write (full, read-only, permissions, I/O error); nothing changed."""


# Integrity failures a clerk must tell apart (same exit code 8, different advice).

class DamagedFile(IntegrityError, message="数据文件已损坏"):
    """A file sgz keeps (keyslot, keyring, catalogue) cannot be read although the key is right.

    Distinct from DecryptionFailed so a clerk is told "restore from backup", not "retype the
    passphrase"; `ref` is the damaged file's path and the message names it.
    """


class AuditUnavailable(IntegrityError, message="审计日志无法写入，操作已拒绝（无日志，不解密）"):
    """The audit log cannot be written: "no log, no key" — the action is refused."""


def storage_error(exc: OSError, what: str) -> StorageError:
    """A StorageError in Chinese for an OSError during `what`."""
    if exc.errno == errno.ENOSPC:
        return StorageError(f"磁盘空间不足，{what}未完成")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(f"没有写入权限或磁盘只读，{what}未完成")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return StorageError(f"目标路径不存在或其中有同名文件（不是文件夹），{what}未完成")
    if exc.errno == errno.ENAMETOOLONG:
        return StorageError(f"文件名或路径过长，{what}未完成")
    if exc.errno == errno.EIO:
        return StorageError(f"磁盘读写出错（硬盘、U 盘或网络盘可能有故障），{what}未完成")
    return StorageError(f"写入失败（{exc.strerror or exc}），{what}未完成")
