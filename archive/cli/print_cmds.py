"""`sgz print catalogue|备考表|盒脊` and `sgz stamp` (the 归档章 on archival PDFs)."""

from __future__ import annotations

import click

from archive.cli.common import emit_json, force_option, info, json_option, open_archive


@click.command("print")
@click.argument("kind", metavar="类型")
@click.option("--year", type=int, help="年度。")
@click.option("--category", "-c", help="机构（问题）：XZ 行政、FW 服务、RS 人事、CW 财务。")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False),
              help="输出文件；扩展名决定格式：.docx、.pdf 或 .xlsx。")
@click.option("--arranger", default="", help="备考表的整理人（默认本人）。")
@click.option("--checker", default="", help="备考表的检查人。")
@click.option("--thickness", type=click.Choice(["20", "30", "40", "50"]), default="40",
              show_default=True, help="盒脊厚度（毫米）。")
@force_option
@json_option
@click.pass_context
def print_cmd(ctx: click.Context, kind: str, year: int | None, category: str | None, out: str,
              arranger: str, checker: str, thickness: str, force: bool, as_json: bool) -> None:
    """打印纸质档案用表：catalogue（归档文件目录）、备考表、盒脊（DA/T 22—2015）。

    只包含本人有权查看目录的档案。归档文件目录按 年度—保管期限—机构（问题）分册；
    备考表每盒一页；盒脊每盒一条，宽度等于盒脊厚度。备考表和盒脊要求档案已登记盒号
    （sgz paper place）。

    \b
    示例：
      sgz print catalogue --year 2026 -o 归档文件目录-2026.pdf
      sgz print catalogue --year 2026 --category 服务 -o 目录.xlsx
      sgz print 备考表 --year 2026 --checker 王五 -o 备考表.docx
      sgz print 盒脊 --year 2026 --thickness 30 -o 盒脊.pdf
    """
    arc = open_archive(ctx)
    path, n = arc.paper.print_(kind, out, year=year, category=category, arranger=arranger,
                               checker=checker, thickness_mm=int(thickness), force=force)
    if as_json:
        emit_json({"id": str(path), "out": str(path), "items": n})
        return
    click.echo(str(path))
    label = {"catalogue": "归档文件目录"}.get(kind.strip().lower(), kind)
    info(f"已输出 {n} 件档案的{label}到 {path}")


@click.command("stamp")
@click.argument("refs", nargs=-1, metavar="[档号]...")
@click.option("--pending", is_flag=True, help="为所有待制作的档案制作（默认行为，可省略）。")
@click.option("--retry", is_flag=True, help="同时重试以前未能制作的档案。")
@click.option("--status", "status_only", is_flag=True, help="只显示已制作、待制作、失败的件数。")
@json_option
@click.pass_context
def stamp_cmd(ctx: click.Context, refs: tuple[str, ...], pending: bool, retry: bool,
              status_only: bool, as_json: bool) -> None:
    """制作加盖归档章的长期保存版本（PDF/A-2b，DA/T 22—2015）。

    归档章盖在长期保存版本第一页顶端居中：全宗号、年度、件号 / 机构（问题）、保管期限、
    页数。原件不作任何改动；长期保存版本作为“归档PDF”组件加密存入。

    Word 文档须经 LibreOffice 转换（每件约 2 秒），所以 sgz file 只在一次归档不超过 5 件时
    当即制作，批量导入的留待本命令；更正后的档案也重新待制作。退出码 6 表示有档案未能制作。

    \b
    示例：
      sgz stamp --pending
      sgz stamp Z001-WS·2026-D30-FW-0007
      sgz stamp --status
    """
    arc = open_archive(ctx)
    if status_only:
        st = arc.archival.status()
        if as_json:
            emit_json({"id": "archival_pdf", **st})
        else:
            click.echo(f"已制作 {st['done']} 件，待制作 {st['pending']} 件，未能制作 {st['failed']} 件，"
                       f"无需制作（格式不适用或已销毁）{st['n/a']} 件")
        return

    def progress(done: int, total: int, ref: str) -> None:
        if not as_json:
            info(f"[{done}/{total}] {ref}")

    outcomes = arc.archival.run(list(refs) or None, retry_failed=retry, progress=progress)
    if as_json:
        emit_json([{"id": o.ref, **o.__dict__} for o in outcomes])
    else:
        for o in outcomes:
            if o.ok:
                click.echo(f"{o.ref}\t第 {o.seq} 个组件\t{o.pages} 页"
                           + ("" if o.clear else "\t归档章压字"))
            else:
                click.echo(f"{o.ref}\t未能制作：{o.error}")
        info(f"完成：{sum(o.ok for o in outcomes)} 件已制作，{sum(not o.ok for o in outcomes)} 件未能制作"
             if outcomes else "没有待制作的档案")
    if any(not o.ok for o in outcomes):
        ctx.exit(6)
