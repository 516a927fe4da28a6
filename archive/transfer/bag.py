"""Optional BagIt (RFC 8493) wrapping of a transfer package, with bagit-python.

The package moves into `data/` and the bag adds SHA-256 and SHA-512 manifests (bagit-python only
offers hashlib's guaranteed algorithms, so SM3 stays in the package's own manifest).
`checks.verify_package` recognises a bag and validates it before checking `data/`.
"""

from __future__ import annotations

from pathlib import Path

import bagit

from archive.transfer.model import Station

ALGORITHMS = ("sha256", "sha512")


def make_bag(package: Path, station: Station, *, year: int) -> None:
    """Turn the package folder into a bag in place."""
    bagit.make_bag(str(package), {
        "Source-Organization": station.name,
        "External-Identifier": f"{station.fonds}-{year}",
        "External-Description": f"{station.name}{year}年度电子档案移交包（档发〔2012〕7号结构，位于 data/）",
    }, checksums=list(ALGORITHMS))


def bag_problems(root: Path) -> list[tuple[str, str]]:
    """(file, message) for every BagIt problem; empty when the bag validates."""
    try:
        bagit.Bag(str(root)).validate()
    except bagit.BagValidationError as e:
        details = getattr(e, "details", None) or []
        if not details:
            return [("", f"BagIt 校验失败：{e.message}")]
        out = []
        for d in details:
            path = getattr(d, "path", "")
            if isinstance(d, bagit.ChecksumMismatch):
                out.append((path, f"BagIt {d.algorithm} 摘要不符"))
            elif isinstance(d, bagit.FileMissing):
                out.append((path, "BagIt 清单中的文件缺失"))
            elif isinstance(d, bagit.UnexpectedFile):
                out.append((path, "BagIt 清单外文件"))
            else:
                out.append((path, f"BagIt 校验失败：{d}"))
        return out
    except bagit.BagError as e:
        return [("", f"BagIt 结构错误：{e}")]
    return []
