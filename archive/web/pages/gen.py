"""文书: templates by kind, a form built from the manifest with every error beside its field,
money amounts with live 大写, a first-page preview, .docx / PDF download, and filing directly.

Generated documents stay in memory: the .docx is built as bytes, the PDF is converted in the
vault's staging session (the LibreOffice step needs a folder) and downloads go to the browser.
"""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from archive.errors import ArchiveError, ValidationError
from archive.web.guard import Pages, error_status, form_text, whole_number
from archive.web.render import render
from archive.web.replies import DOCX, download
from archive.web.sessions import Session

page = Pages()

KIND_ORDER = ("章程", "制度", "协议", "表单", "牌匾")
TABLE_ROWS = 4
MAX_TABLE_ROWS = 500  # rows a form can post: more is refused, not looped over
MONEY_TYPES = ("money",)
_PROBLEM = re.compile(r"^(?P<label>.*?)（(?P<name>[A-Za-z0-9_]+)）：(?P<msg>.*)$", re.S)


def grouped(manifests: list[Any]) -> list[tuple[str, list[Any]]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for m in manifests:
        groups[m.kind].append(m)
    order = [k for k in KIND_ORDER if k in groups] + sorted(k for k in groups if k not in KIND_ORDER)
    return [(k, groups[k]) for k in order]


def form_data(manifest: Any, form: FormData) -> dict[str, Any]:
    """The manifest's fields from a posted form; blank values are left out (defaults apply)."""
    data: dict[str, Any] = {}
    for f in manifest.fields:
        if f.type == "table":
            rows = []
            n = whole_number(str(form.get(f"{f.name}.rows") or ""), f"{f.label}的行数",
                             hi=MAX_TABLE_ROWS)
            for i in range(TABLE_ROWS if n is None else n):
                row = {c.name: str(form.get(f"{f.name}.{i}.{c.name}") or "").strip()
                       for c in f.columns}
                if any(row.values()):
                    rows.append({k: v for k, v in row.items() if v})
            if rows:
                data[f.name] = rows
            continue
        raw = form.get(f.name)
        value = raw.strip() if isinstance(raw, str) else ""
        if value:
            data[f.name] = value
    return data


def field_errors(exc: ValidationError) -> tuple[dict[str, str], list[str]]:
    """Split a validation error's details into per-field messages and the rest."""
    by_field: dict[str, str] = {}
    other: list[str] = []
    for d in exc.details or [str(exc)]:
        m = _PROBLEM.match(str(d))
        if m:
            name = m["name"]
            by_field[name] = (by_field[name] + "；" if name in by_field else "") + m["msg"]
        else:
            other.append(str(d))
    return by_field, other


def _page(request: Request, m: Any, *, status: int = 200, values: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, other: list[str] | None = None,
          preview: str = "", filed: list[str] | None = None) -> Response:
    return render(request, "gen_form.html", status_code=status, title=m.title, m=m,
                  values=values or {}, errors=errors or {}, other=other or [], preview=preview,
                  filed=filed or [], table_rows=TABLE_ROWS, money_types=MONEY_TYPES)


@page.get("/gen", "gen")
async def templates(request: Request, sess: Session) -> Response:
    items = await sess.run(lambda arc: arc.gen.templates())
    return render(request, "gen.html", title="文书", groups=grouped(items))


@page.get("/gen/{tid}", "gen")
async def form(request: Request, sess: Session) -> Response:
    tid = request.path_params["tid"]
    m = await sess.run(lambda arc: arc.gen.manifest(tid))
    return _page(request, m)


def _preview_png(pdf: bytes) -> str:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[0]
        image = page.render(scale=1.2).to_pil()
        import io

        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    finally:
        doc.close()


@page.post("/gen/{tid}", "gen")
async def generate(request: Request, sess: Session) -> Response:
    tid = request.path_params["tid"]
    action = form_text(request, "action") or "preview"
    m = await sess.run(lambda arc: arc.gen.manifest(tid))
    data = form_data(m, request.state.form)
    values = {k: v for k, v in request.state.form.multi_items() if isinstance(v, str)}
    try:
        if action == "docx":
            doc = await sess.run(lambda arc: arc.gen.build(m, data))
            name = f"{m.title}.{'svg' if m.layout == 'plaque' else 'docx'}"
            return download(doc, "image/svg+xml" if m.layout == "plaque" else DOCX, name)
        if action == "pdf":
            pdf = await sess.run(lambda arc: arc.gen.build_pdf(m, data))
            return download(pdf, "application/pdf", f"{m.title}.pdf")
        if action == "file":
            # the CLI's `gen --pdf --file` path: class, retention, date and household from the
            # template and the data; the files live only in the private staging folder
            refs = (await sess.run(lambda arc: arc.gen.render(m, data, None, pdf=True,
                                                              file=True))).filed
            return _page(request, m, values=values, filed=refs)
        pdf = await sess.run(lambda arc: arc.gen.build_pdf(m, data))
        return _page(request, m, values=values, preview=_preview_png(pdf))
    except ValidationError as exc:
        errors, other = field_errors(exc)
        return _page(request, m, status=422, values=values, errors=errors, other=other)
    except ArchiveError as exc:
        return _page(request, m, status=error_status(exc), values=values, other=[str(exc)])


@page.post("/gen/daxie", "gen")
async def daxie(request: Request, sess: Session) -> Response:
    """htmx: the 人民币大写 of the amount typed into a money field (computed by the library)."""
    from archive.docgen.render import rmb_upper

    name = request.query_params.get("field", "")
    raw = request.state.form.get(name)
    text = raw.strip() if isinstance(raw, str) else ""
    try:
        out, bad = (rmb_upper(text) if text else ""), False
    except (ValueError, ArithmeticError, ArchiveError):
        out, bad = "", True
    return render(request, "gen_daxie.html", text=out, bad=bad)


