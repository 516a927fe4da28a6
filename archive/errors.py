"""The one error hierarchy of the library; each family carries its CLI exit code (DESIGN §8).

Messages are Simplified Chinese and never contain secrets (passphrases, keys, plaintext).
Structured fields (ref, expected, found, details) let callers and tests inspect the cause.
"""

from __future__ import annotations

import errno
from typing import Any


class ArchiveError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = 1
    message = "内部错误"

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


class UsageError(ArchiveError):
    """The call itself is malformed (bad option combination, bad argument form)."""

    exit_code = 2
    message = "用法错误"


class NotFound(ArchiveError):
    """A record, user, request, file or template does not exist."""

    exit_code = 3
    message = "未找到"


class Conflict(ArchiveError):
    """The target already exists, is locked, or is in the wrong state for this action."""

    exit_code = 4
    message = "状态冲突"


class AccessDenied(ArchiveError):
    """The policy refuses this user this action; the message names the rule."""

    exit_code = 5
    message = "无权执行此操作"


class ValidationError(ArchiveError):
    """Input failed validation; `details` lists every problem found (not only the first)."""

    exit_code = 6
    message = "输入有误"


class DecryptionFailed(ArchiveError):
    """Wrong passphrase, wrong key or damaged ciphertext: deliberately indistinguishable."""

    exit_code = 7
    message = "解密失败：口令错误或数据已损坏"


class IntegrityError(ArchiveError):
    """Stored data or the audit log does not verify."""

    exit_code = 8
    message = "完整性校验失败"


class DamagedFile(IntegrityError):
    """A file sgz keeps (keyslot, keyring, catalogue) cannot be read although the key is right.

    Distinct from DecryptionFailed so a clerk is told "restore from backup", not "retype the
    passphrase"; `ref` is the damaged file's path and the message names it.
    """

    message = "数据文件已损坏"


class AuditUnavailable(IntegrityError):
    """The audit log cannot be written: "no log, no key" — the action is refused."""

    message = "审计日志无法写入，操作已拒绝（无日志，不解密）"


class StorageError(ArchiveError):
    """The disk refused a write (full, read-only, permissions, I/O error); nothing changed."""

    exit_code = 9
    message = "存储写入失败"


def storage_error(exc: OSError, what: str) -> StorageError:
    """A StorageError in Chinese for an OSError during `what`."""
    if exc.errno == errno.ENOSPC:
        return StorageError(f"磁盘空间不足，{what}未完成")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(f"没有写入权限或磁盘只读，{what}未完成")
    return StorageError(f"写入失败（{exc.strerror or exc}），{what}未完成")
