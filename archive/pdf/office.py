"""LibreOffice conversion (docx → pdf) with a timeout and a private, throw-away profile.

A private `-env:UserInstallation` lets conversions run while the user has LibreOffice open and
lets several run at once; the profile lives in a temp folder removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from archive.errors import ArchiveError, NotFound

_WINDOWS_PATHS = (r"C:\Program Files\LibreOffice\program\soffice.exe",
                  r"C:\Program Files (x86)\LibreOffice\program\soffice.exe")


class ConversionFailed(ArchiveError):
    """LibreOffice ran but did not produce the expected output."""

    message = "LibreOffice 转换失败"


def find_soffice() -> str | None:
    """Path of the soffice executable, or None when LibreOffice is not installed."""
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    return next((p for p in _WINDOWS_PATHS if os.path.isfile(p)), None)


def _require_soffice() -> str:
    exe = find_soffice()
    if exe is None:
        raise NotFound("未找到 LibreOffice（soffice），无法转换为 PDF。请安装 LibreOffice "
                       "（Debian/Ubuntu：apt install libreoffice-writer fonts-noto-cjk；Windows："
                       "从 libreoffice.org 下载），或去掉 --pdf 只生成 .docx。")
    return exe


def convert_to_pdf(sources: list[Path], out_dir: Path, *, timeout: float = 180.0) -> list[Path]:
    """Convert documents to PDF in one LibreOffice run; return the PDF paths in order."""
    exe = _require_soffice()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = [Path(s).resolve() for s in sources]
    with tempfile.TemporaryDirectory(prefix="sgz-lo-") as profile:
        cmd = [exe, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless",
               "--norestore", "--nolockcheck", "--convert-to", "pdf", "--outdir",
               str(out_dir.resolve()), *map(str, sources)]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ConversionFailed(f"LibreOffice 转换超时（{timeout:.0f} 秒）") from None
    pdfs = [out_dir / (s.stem + ".pdf") for s in sources]
    missing = [p.name for p in pdfs if not p.is_file() or p.stat().st_size == 0]
    if proc.returncode != 0 or missing:
        tail = proc.stderr.decode("utf-8", "replace").strip()[-300:]
        raise ConversionFailed(
            f"LibreOffice 转换失败（退出码 {proc.returncode}），未生成：{'、'.join(missing)}"
            + (f"；{tail}" if tail else ""), details=missing)
    return pdfs


def docx_to_pdf(source: Path, out_dir: Path | None = None, *, timeout: float = 120.0) -> Path:
    """Convert one document; the PDF lands next to it unless `out_dir` is given."""
    source = Path(source)
    return convert_to_pdf([source], out_dir or source.parent, timeout=timeout)[0]
