"""Text extraction at filing: dispatch by type, run in a child process with time/memory caps.

Hostile files (zip bombs, entity bombs, huge or broken PDFs) must never take the archive
down, so parsing happens in a spawned worker process with RLIMIT_AS (POSIX) and a timeout;
the worker is reused between files for speed and replaced when it is killed or dies.
"""

from __future__ import annotations

import io
import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from archive.search.limits import DEFAULT_LIMITS, NO_TEXT_REASON, Extracted, Limits, cap_text

# what extraction reads: bytes, a stream, or a callable that loads one when its turn comes
Input = bytes | IO[bytes] | Callable[[], "bytes | IO[bytes] | Extracted"]

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM", b"GIF8")
_AHEAD = 4  # extraction requests in flight per worker (extract_many)
_PIPE = 48 * 1024  # bytes of requests sent ahead at most (below the 64 KiB pipe buffer)
_DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _kind(data: bytes, filename: str, mime: str | None) -> str:
    name = filename.lower()
    if data.startswith(b"%PDF") or name.endswith(".pdf") or mime == "application/pdf":
        return "pdf"
    if name.endswith((".docx", ".docm")) or mime == _DOCX_MIME:
        return "docx"
    if data.startswith(_IMAGE_MAGIC) or (mime or "").startswith("image/"):
        return "image"
    if name.endswith((".txt", ".md", ".csv")) or (mime or "").startswith("text/"):
        return "text"
    return "other"


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def extract_here(data: bytes, *, filename: str, mime: str | None = None, ocr: bool = True,
                 limits: Limits = DEFAULT_LIMITS, tmpdir: str | None = None) -> Extracted:
    """Extract in this process (no isolation): the worker's body; tests and trusted input."""
    deadline = time.monotonic() + limits.timeout
    kind = _kind(data, filename, mime)
    if kind == "docx":
        from archive.search.extract_docx import extract_docx

        return extract_docx(data, limits)
    if kind == "pdf":
        from archive.search.extract_pdf import extract_pdf

        return extract_pdf(data, limits, ocr=ocr, deadline=deadline, tmpdir=tmpdir)
    if kind == "image":
        return _extract_image(data, limits, ocr=ocr, deadline=deadline, tmpdir=tmpdir)
    if kind == "text":
        return cap_text(_decode_text(data), limits, None)
    return Extracted("", "no_text", "不支持从此类文件提取文字", None)


def _extract_image(data: bytes, limits: Limits, *, ocr: bool, deadline: float,
                   tmpdir: str | None) -> Extracted:
    from archive.search.ocr import OcrUnavailable, ocr_image

    if not ocr:
        return Extracted("", "no_text", NO_TEXT_REASON, 1)
    refused = _image_too_large(data, limits)
    if refused:
        return Extracted("", "no_text", f"{NO_TEXT_REASON}：{refused}", 1)
    try:
        text = ocr_image(data, timeout=max(1.0, deadline - time.monotonic()), tmpdir=tmpdir)
    except OcrUnavailable:
        return Extracted("", "no_text", NO_TEXT_REASON, 1)
    except Exception:
        return Extracted("", "failed", "图像识别失败或超时", 1)
    if not text:
        return Extracted("", "no_text", NO_TEXT_REASON, 1)
    return cap_text(text, limits, 1, status="ocr")


def _image_too_large(data: bytes, limits: Limits) -> str | None:
    """Why an image must not be handed to OCR (its decoded size, from the header only)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            frames = getattr(im, "n_frames", 1)
    except Image.DecompressionBombError:
        return "图像像素过多（疑似解压炸弹），未做文字识别"
    except Exception:  # unreadable header: the OCR tool reports what it can
        return None
    if width * height > limits.max_pixels:
        return f"图像过大（{width}×{height}），未做文字识别"
    if frames > limits.max_ocr_pages:
        return f"图像页数过多（{frames} 页），未做文字识别"
    return None


_PEAK = "peak-rss"


def _peak_rss() -> int | None:
    """Peak resident memory in bytes of this process or its largest child (OCR), if known.

    On Linux the own peak is VmHWM: ru_maxrss would carry over the parent's peak through the
    fork+exec that spawned this worker.
    """
    try:
        import resource
    except ImportError:
        return None
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is KiB on Linux, bytes on macOS
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    own = int(line.split()[1]) * 1024
    except OSError:
        pass
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * unit
    return max(own, child)


def _text_only_fonts() -> None:
    """Stop pdfium from looking up system fonts for fonts a PDF does not embed (worker only).

    Text comes from the PDF's encodings, CMaps and ToUnicode maps and its width tables; a
    substitute system font only draws the glyphs. Finding and loading one (a 20 MB CJK .ttc
    for STSong-Light, as Word/WPS/reportlab exports use) took 7-9 ms of every page's 8-10 ms;
    without it a page takes ~1 ms and the text is the same (ADR 0010). Rendering for OCR
    happens only for pages without a useful text layer, where a missing glyph changes nothing.
    """
    try:
        import pypdfium2  # noqa: F401  (initialises the library)
        import pypdfium2.raw as pdfium_c

        pdfium_c.FPDF_SetSystemFontInfo(None)
    except Exception:  # an older pdfium: extraction is only slower
        pass


def _title(data: bytes, mime: str) -> str | None:
    """The document's own title (doc_titles.py, as records/sniff.py reads it), parsed here
    under this worker's limits."""
    from archive.search.doc_titles import document_title

    try:
        return document_title(data, mime)
    except Exception:  # MemoryError included: the record is still filed, titled by its name
        return None


def _worker(conn: Any, memory: int) -> None:
    """Child process loop: apply RLIMIT_AS, then extract requests until the pipe closes."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):
        pass  # Windows: no RLIMIT_AS; the timeout still applies
    _text_only_fonts()
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg == _PEAK:
            conn.send(_peak_rss())
            continue
        args, kwargs = msg
        want_title = kwargs.pop("title", False)
        try:
            result = extract_here(*args, **kwargs)
        except MemoryError:
            result = Extracted("", "failed", "提取时内存超过上限，未提取文字", None)
        except Exception:
            result = Extracted("", "failed", "提取文字时出错（文件可能已损坏）", None)
        if want_title and kwargs.get("mime"):
            result.title = _title(args[0], kwargs["mime"])
        conn.send(result)


class Extractor:
    """A reusable isolated extraction worker (spawned child process)."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS, tmpdir: str | None = None) -> None:
        self.limits = limits
        self.tmpdir = tmpdir
        self._proc: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_worker, args=(child, self.limits.memory), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent

    def close(self) -> None:
        """Stop the worker process."""
        if self._proc is not None:
            self._conn.close()
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        self._proc = self._conn = None

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
            self._conn.close()
        self._proc = self._conn = None

    def extract(self, data_or_stream: bytes | IO[bytes], *, filename: str,
                mime: str | None = None, ocr: bool = True) -> Extracted:
        """Extract text in the worker; timeouts and crashes become status failed."""
        limits = self.limits
        data = _read_input(data_or_stream, limits)
        if isinstance(data, Extracted):
            return data
        if self._proc is None or not self._proc.is_alive():
            self._start()
        kwargs = {"filename": filename, "mime": mime, "ocr": ocr, "limits": limits,
                  "tmpdir": self.tmpdir}
        try:
            self._conn.send(((data,), kwargs))
            # Extraction checks its own deadline; the grace period covers a stuck parser.
            if not self._conn.poll(limits.timeout + 5):
                self._kill()
                return Extracted("", "failed", f"提取超时（超过 {limits.timeout:g} 秒），未提取文字")
            result: Extracted = self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self._kill()
            return Extracted("", "failed", "提取进程异常退出（可能超出内存上限），未提取文字")
        return result

    def peak_memory(self) -> int | None:
        """Peak RSS in bytes the worker (or an OCR child of it) reached so far; None if unknown.

        A fresh Extractor per file gives that file's peak: the bound the hostile corpus checks.
        """
        if self._proc is None or not self._proc.is_alive():
            return None
        self._conn.send(_PEAK)
        if not self._conn.poll(10):
            return None
        peak: int | None = self._conn.recv()
        return peak

    def extract_many(self, items: Sequence[tuple[Input, str, str | None]], *,
                     ocr: bool = True, titles: bool = False) -> list[Extracted]:
        """Extract (input, filename, mime) items, in order, pipelined.

        An input is bytes, a stream, or a callable returning either (or an `Extracted` for
        an input decided without parsing, e.g. too large): it is read only when its request
        is about to be sent, so a batch never holds more than the requests in flight.
        Requests are sent ahead (up to `_AHEAD` in flight), so the worker parses the next file
        while this process reads and unpickles the previous result: one round trip per batch
        instead of one per file. A timeout or crash fails that item only; the rest of the
        batch goes on in a fresh worker. With `titles`, each result also carries the
        document's own title (`Extracted.title`, read by the worker as filing would).
        """
        limits = self.limits
        kwargs = {"mime": None, "ocr": ocr, "limits": limits, "tmpdir": self.tmpdir,
                  "title": titles}
        out: list[Extracted | None] = [None] * len(items)
        pending = iter(enumerate(items))
        ahead: tuple[int, bytes, str, str | None] | None = None  # read, not yet sent
        retry: list[tuple[int, bytes, str, str | None]] = []  # sent to a worker that died

        def next_item() -> tuple[int, bytes, str, str | None] | None:
            if retry:
                return retry.pop(0)
            for i, (src, filename, mime) in pending:
                data = _read_input(src, limits)
                if isinstance(data, Extracted):
                    out[i] = data
                    continue
                return i, data, filename, mime
            return None

        ahead = next_item()
        while ahead is not None:
            if self._proc is None or not self._proc.is_alive():
                self._start()
            sent: list[tuple[int, bytes, str, str | None]] = []
            try:
                while ahead is not None or sent:
                    # never more unread request bytes than a pipe holds: a worker blocked on
                    # sending a large result must never wait for us blocked on sending
                    while ahead is not None and len(sent) < _AHEAD and (
                            not sent or sum(len(x[1]) for x in sent) + len(ahead[1]) <= _PIPE):
                        self._conn.send(((ahead[1],), {**kwargs, "filename": ahead[2],
                                                        "mime": ahead[3]}))
                        sent.append(ahead)
                        ahead = next_item()
                    if not self._conn.poll(limits.timeout + 5):
                        self._kill()
                        out[sent.pop(0)[0]] = Extracted(
                            "", "failed", f"提取超时（超过 {limits.timeout:g} 秒），未提取文字")
                        break
                    out[sent.pop(0)[0]] = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                self._kill()
                out[sent.pop(0)[0]] = Extracted(
                    "", "failed", "提取进程异常退出（可能超出内存上限），未提取文字")
            if sent:  # requests the dead worker never answered go to a fresh one
                if ahead is not None:
                    retry.insert(0, ahead)
                retry[:0] = sent
                ahead = next_item()
        return [r if r is not None else Extracted("", "failed", "未提取文字") for r in out]

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def too_large(size: int, limits: Limits = DEFAULT_LIMITS) -> Extracted | None:
    """The result for a file too large to extract, decided from its size without reading it."""
    if size > limits.max_input:
        return Extracted("", "failed",
                         f"文件过大（超过 {limits.max_input >> 20} MiB），未提取文字", None)
    return None


def _read_input(data_or_stream: Input, limits: Limits) -> bytes | Extracted:
    if callable(data_or_stream):
        loaded = data_or_stream()
        if isinstance(loaded, Extracted):
            return loaded
        data_or_stream = loaded
    if isinstance(data_or_stream, bytes | bytearray | memoryview):
        data = bytes(data_or_stream)
    else:
        data = data_or_stream.read(limits.max_input + 1)
    if len(data) > limits.max_input:
        return Extracted("", "failed", "文件过大，未提取文字", None)
    return data


_DEFAULT: dict[tuple[Limits, str | None], Extractor] = {}


def extract(data_or_stream: bytes | IO[bytes], *, filename: str, mime: str | None = None,
            ocr: bool = True, limits: Limits = DEFAULT_LIMITS,
            tmpdir: str | None = None) -> Extracted:
    """Extract text from one file in an isolated worker; never raises for bad input.

    `tmpdir` is a caller-given private folder for the OCR tool's scratch files, if any.
    """
    key = (limits, tmpdir)
    if key not in _DEFAULT:
        _DEFAULT[key] = Extractor(limits, tmpdir)
    return _DEFAULT[key].extract(data_or_stream, filename=filename, mime=mime, ocr=ocr)


def shutdown() -> None:
    """Stop the shared workers (tests, end of a CLI run)."""
    for ex in _DEFAULT.values():
        ex.close()
    _DEFAULT.clear()


__all__ = ["DEFAULT_LIMITS", "Extracted", "Extractor", "Limits", "extract", "extract_here",
           "shutdown"]
