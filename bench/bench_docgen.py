"""Median ms per document: our `sgz gen` path vs bare docxtpl on the same template, same run.

Our path = load manifest + validate input + sandboxed strict render + save; bare = docxtpl's
plain Environment (+ our filters) rendering an already-typed context. Usage:
    PYTHONPATH=. python bench/bench_docgen.py [--n 500] [--template confidentiality-rules]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import time

from docxtpl import DocxTemplate
from jinja2 import Environment

from archive.docgen.engine import build_context, generate, sample_station_vars
from archive.docgen.manifest import default_templates_dir, get_manifest, load_manifest
from archive.docgen.render import HELPERS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--template", default="confidentiality-rules")
    args = ap.parse_args()
    root = default_templates_dir()
    station = sample_station_vars()
    today = dt.date(2026, 3, 2)
    m = get_manifest(root, args.template)
    context = build_context(m, m.sample, station, today)

    def ours() -> None:
        manifest = load_manifest(root / args.template)
        generate(manifest, manifest.sample, station, today=today)

    plain = Environment()
    plain.filters.update(HELPERS)       # the template needs cn_date; nothing else added

    def bare() -> None:
        tpl = DocxTemplate(m.docx_path)
        tpl.render(context, plain)
        tpl.save(io.BytesIO())

    times: dict[str, list[float]] = {"ours": [], "bare": []}
    for fn in (ours, bare):     # warm-up
        fn()
    for _ in range(args.n):     # interleaved so both see the same machine load
        for name, fn in (("ours", ours), ("bare", bare)):
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"template: {args.template}, renders: {args.n} each")
    print(f"sgz gen path   median {med['ours']:.2f} ms/doc")
    print(f"bare docxtpl   median {med['bare']:.2f} ms/doc")
    print(f"ratio (ours / bare): {med['ours'] / med['bare']:.2f}")


if __name__ == "__main__":
    main()
