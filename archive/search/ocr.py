"""OCR through the tesseract command (chi_sim), images piped via stdin/stdout: no temp files."""

from __future__ import annotations

import os
import shutil
import subprocess

from archive.search.normalize import strip_cjk_spaces


class OcrUnavailable(Exception):
    """tesseract or its chi_sim data is not installed."""


def tesseract_path() -> str | None:
    """The tesseract executable, or None where it is not installed."""
    return shutil.which("tesseract")


def ocr_available() -> bool:
    """True when tesseract with chi_sim can run here."""
    exe = tesseract_path()
    if exe is None:
        return False
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, timeout=30,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return b"chi_sim" in out.split()


def ocr_image(image: bytes, *, timeout: float, tmpdir: str | None = None) -> str:
    """Recognise Chinese text in one image (PNG/JPEG/TIFF bytes); spaces between CJK removed."""
    exe = tesseract_path()
    if exe is None:
        raise OcrUnavailable()
    env = {"PATH": os.environ.get("PATH", ""), "OMP_THREAD_LIMIT": "1"}
    if tmpdir:
        env["TMPDIR"] = tmpdir
    if "TESSDATA_PREFIX" in os.environ:
        env["TESSDATA_PREFIX"] = os.environ["TESSDATA_PREFIX"]
    proc = subprocess.run([exe, "stdin", "stdout", "-l", "chi_sim", "--psm", "3"],
                          input=image, capture_output=True, timeout=timeout, env=env,
                          check=False)
    if proc.returncode != 0:
        if b"chi_sim" in proc.stderr:
            raise OcrUnavailable()
        return ""
    return strip_cjk_spaces(proc.stdout.decode("utf-8", "replace")).strip()
