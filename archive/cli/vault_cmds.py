"""`sgz init`, `file`, `show`, `ls`, `get`: parse, call one Archive method, format."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from archive.cli.common import (
    INTERRUPTION,
    col,
    emit_json,
    emit_rows,
    force_option,
    home_path,
    info,
    json_option,
    kdf_work_factor,
    open_archive,
    read_new_passphrase,
    show_object,
    warn_if_example,
)
from archive.safetext import display

if TYPE_CHECKING:
    from archive.records.service import FileResult


@click.command("init")
@click.option("--station", "station_file", type=click.Path(dir_okay=False),
              help="站点配置文件 station.toml；省略则写入一份带注释的示例供编辑。")
@click.option("--user", required=True, help="第一个用户的用户名（如 zhangsan）。")
@click.option("--role", default="head", show_default=True,
              help="该用户的角色：head 站长、deputy 副站长、archivist 档案管理员……")
@click.option("--display", default="", help="该用户的姓名（显示在页面、备考表、登记表上），如 张三。")
@click.option("--new-passphrase-file", type=click.Path(dir_okay=False),
              help="从文件读取新口令（否则取 SGZ_NEW_PASSPHRASE 或 SGZ_NEW_PASSPHRASE_FILE，"
                   "或在终端输入两次）。")
@json_option
@click.pass_context
def init_cmd(ctx: click.Context, station_file: str | None, user: str, role: str, display: str,
             new_passphrase_file: str | None, as_json: bool) -> None:
    """新建站点档案库（station.toml、vault/、indexes/），并打印一次性恢复码。

    \b
    示例：
      sgz init --station station.toml --user zhangsan --display 张三 --role head
      未设 SGZ_NEW_PASSPHRASE / SGZ_NEW_PASSPHRASE_FILE 时会提示输入两次口令。
    恢复码只显示这一次：请打印后封存在档案柜中，遗忘口令时用它解锁（SGZ_USER=recovery）。
    """
    from archive.app import Archive
    from archive.errors import NotFound

    text = None
    if station_file:
        try:
            text = Path(station_file).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFound(f"找不到站点配置文件 {station_file}") from None
    passphrase = read_new_passphrase(new_passphrase_file)
    root = home_path(ctx)
    arc, code = Archive.init(root, user=user, role=role, passphrase=passphrase,
                             station_text=text, kdf_work_factor=kdf_work_factor(),
                             display=display)
    with arc:
        if as_json:
            emit_json({"id": arc.kernel.vault_id, "home": str(root), "recovery_code": code})
        else:
            click.echo(code)
            info(f"已在 {root} 建立站点“{arc.kernel.station.name}”的档案库（全宗号 {arc.kernel.station.fonds}）。")
            if not station_file:
                info("已写入示例 station.toml，请按本站实际情况修改。")
            info("上面一行是恢复码，只显示这一次：请抄写或打印后封存。")


@click.command("file")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--category", "-c", help="档案类别：XZ 行政、FW 服务、RS 人事、CW 财务（代码或中文名）。")
@click.option("--title", "-t", help="题名；省略时取文件自身的标题，否则取文件名。")
@click.option("--year", type=int, help="年度（默认取 --date 的年份或今年）。")
@click.option("--retention", "-r", help="保管期限：Y 永久、D30 定期30年、D10 定期10年。")
@click.option("--date", help="文件日期，如 2026-05-06。")
@click.option("--doc-no", default="", help="文号，如 奢民发〔2026〕3号。")
@click.option("--author", default="", help="责任者。")
@click.option("--household", default="", help="户号（一户一档）。")
@click.option("--responsible", help="负责社工（服务档案）；社工归档时默认是本人。")
@click.option("--secrecy", default="", help="密级（如 内部、秘密）；默认公开。")
@click.option("--note", default="", help="备注。")
@click.option("--precious", is_flag=True, help="珍贵档案：一律不得外借、复制。")
@click.option("--of", "of", help="作为已有档案（档号）的组件归档：签字扫描件、附件、更正版本。")
@click.option("--kind", help="组件类型：附件、定稿、签字扫描件、归档PDF、更正版本、其他。定稿、签字扫描件"
              "由负责社工（行政档案为归档人）、档案管理员或站长补充；归档PDF 由档案管理员或站长添加"
              "（或用 sgz stamp 制作）。")
@click.option("--reason", default="", help="更正原因（添加更正版本或再添加正文时必填）。")
@click.option("--no-index", "no_index", is_flag=True,
              help="暂不建全文索引（大批量导入时更快；之后运行 sgz index rebuild）。")
@click.option("--archive-pdf-now", "archive_pdf_now", type=click.IntRange(min=0), default=5,  # ARCHIVE_PDF_NOW
              show_default=True,
              help="本次归档不超过 N 件时，立即制作加盖归档章的长期保存版本；超过时（批量导入）"
                   "全部留待 sgz stamp --pending；0 表示一律留待以后。")
@json_option
@click.pass_context
def file_cmd(ctx: click.Context, paths: tuple[str, ...], as_json: bool, no_index: bool,
             archive_pdf_now: int, **opts: object) -> None:
    """归档文件：加密存入档案库，打印档号。

    \b
    示例：
      sgz file 入户走访记录.pdf --category 服务 --title 入户走访记录 --retention D30 --household H0012
      sgz file *.docx --category XZ --retention Y
      sgz file 签字扫描件.pdf --of Z001-WS·2026-D30-FW-0007 --kind 签字扫描件
      sgz file 更正稿.docx --of Z001-WS·2026-D30-FW-0007 --reason 更正身份证号笔误
      sgz file 扫描件/*.pdf --category 服务 --archive-pdf-now 0   # 批量导入，归档章以后再做
    已在库中的相同文件不会重复存储，而是报告其已有档号。一次归档不超过 5 件时，随即制作加盖
    归档章的长期保存版本（PDF/A）；更多时留待 sgz stamp --pending。
    """
    arc = open_archive(ctx)
    total = len(paths)
    done = 0

    def report(r: FileResult) -> None:
        # plain echo, not info(): a batch's results are all reported; Ctrl-C stops between
        # batches (`stop` below), never in the middle of reporting one
        nonlocal done
        done += 1
        if as_json:
            return
        click.echo(r.ref)
        if r.status == "duplicate":
            click.echo(f"[{done}/{total}] {display(str(r.path))}：库中已有相同文件，档号 {r.ref}，"
                       "未重复存储", err=True)
        elif total > 1:
            click.echo(f"[{done}/{total}] {display(str(r.path))} → {r.ref}", err=True)

    results = arc.records.file(list(paths), on_result=report, index=not no_index,
                               archive_pdf_now=archive_pdf_now,
                               stop=lambda: INTERRUPTION.pending,  # Ctrl-C: between batches
                               **opts)  # type: ignore[arg-type]
    if INTERRUPTION.pending and len(results) < total:
        if as_json:
            emit_json([{"id": r.ref, **r.as_dict()} for r in results])
        click.echo(f"已归档 {len(results)} 个文件（档号如上），其余 {total - len(results)} 个"
                   "未归档，可重新运行同一命令补归（已归档的会报告为重复）。", err=True)
        raise KeyboardInterrupt  # main says it was interrupted and exits 130
    filed = sum(r.status == "filed" for r in results)
    if filed > archive_pdf_now and not as_json:
        info(f"本次归档 {filed} 件，归档章版本（PDF/A）留待 sgz stamp --pending 制作")
    if as_json:
        out = [{"id": r.ref, **r.as_dict()} for r in results]
        emit_json(out[0] if len(out) == 1 else out)
    if filed:
        warn_if_example(arc.kernel.station.fonds, arc.kernel.station.name)


@click.command("show")
@click.argument("ref")
@json_option
@click.pass_context
def show_cmd(ctx: click.Context, ref: str, as_json: bool) -> None:
    """显示一件档案的著录信息与组件（不解密内容）。

    \b
    示例：
      sgz show Z001-WS·2026-D30-FW-0007
    """
    arc = open_archive(ctx)
    data = arc.records.show(ref)

    def status(d: dict[str, object]) -> str:
        if d.get("status") == "active":
            return "在库"
        return f"已销毁（{station_text(str(d.get('destroyed_at') or ''))}）"

    if not show_object(as_json, data, [
        col("档号", "ref"), col("题名", "title"), col("文号", "doc_no"), col("责任者", "author"),
        col("日期", "date"), col("保管期限", "retention", lambda d: period_name(d.get("retention"))),
        col("密级", "secrecy"), col("户号", "household"), col("负责社工", "responsible"),
        col("珍贵", "precious", lambda d: bool(d.get("precious"))), col("状态", "status", status),
        col("归档时间", "filed_at", time=True), col("归档人", "filed_by"), col("备注", "note")]):
        return
    click.echo("组件：")
    for c in data["components"]:
        extra = f"，更正原因：{display(c['reason'])}" if c["reason"] else ""
        click.echo(f"  {c['seq']}. {c['kind']}  {display(c['filename'])}  {c['size']} 字节{extra}")


def period_name(code: object) -> str:
    from archive.docgen.lookup import period_name as name

    return name(str(code)) if code else ""


def station_text(value: str) -> str:
    from archive.clock import station_text as text

    return text(value) if value else ""


@click.command("ls")
@click.option("--category", "-c", help="档案类别（代码或中文名）。")
@click.option("--year", type=int, help="年度。")
@click.option("--retention", "-r", help="保管期限。")
@click.option("--household", help="户号。")
@click.option("--all", "include_destroyed", is_flag=True, help="包括已销毁档案的目录信息。")
@json_option
@click.pass_context
def ls_cmd(ctx: click.Context, category: str | None, year: int | None, retention: str | None,
           household: str | None, include_destroyed: bool, as_json: bool) -> None:
    """列出档案：归档文件目录（序号、档号、文号、责任者、题名、日期、密级、页数、备注）。

    \b
    示例：
      sgz ls --category 服务 --year 2026
      sgz ls --json
    """
    arc = open_archive(ctx)
    recs = arc.records.ls(category=category, year=year, retention=retention, household=household,
                  include_destroyed=include_destroyed)
    numbered = list(enumerate(recs, 1))
    emit_rows(as_json, numbered, [
        col("序号", "n", lambda p: p[0], json=False), col("档号", "ref", lambda p: p[1].ref),
        col("文号", "doc_no", lambda p: p[1].doc_no), col("责任者", "author", lambda p: p[1].author),
        col("题名", "title", lambda p: p[1].title), col("日期", "date", lambda p: p[1].date),
        col("密级", "secrecy", lambda p: p[1].secrecy),
        col("页数", "pages", lambda p: p[1].pages or ""),
        col("备注", "note", lambda p: p[1].note if p[1].status == "active"
            else f"已销毁 {p[1].note}".strip())],
        as_dict=lambda p: p[1].as_dict(), total="共 {n} 件")


@click.command("get")
@click.argument("ref")
@click.option("-o", "--out", required=True, type=click.Path(), help="输出文件（或文件夹）。")
@click.option("--reason", required=True, help="事由（必填，记入审计日志）。")
@click.option("--component", type=int, help="组件序号（默认为最新的正文）。")
@force_option
@json_option
@click.pass_context
def get_cmd(ctx: click.Context, ref: str, out: str, reason: str, component: int | None,
            force: bool, as_json: bool) -> None:
    """解密导出一件档案到文件；先记审计日志，再解密。

    \b
    示例：
      sgz get Z001-WS·2026-D30-FW-0007 -o 走访记录.pdf --reason 督导检查
    """
    arc = open_archive(ctx)
    dest = arc.records.get(ref, out, reason=reason, force=force, component=component)
    if as_json:
        from archive.catalog.numbering import ArchivalRef

        emit_json({"id": str(ArchivalRef.parse(ref)), "out": str(dest)})  # as typed → canonical
    else:
        click.echo(str(dest))
        info(f"已导出到 {display(str(dest))}（此操作已记入审计日志）")
