"""`sgz search` and `sgz index rebuild|status`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from archive.cli.common import emit_json, info, json_option, open_archive

if TYPE_CHECKING:
    from archive.search.snippet import Snippet


def _shown(snip: Snippet) -> Snippet:
    """The snippet with control and bidi characters written as escapes (safetext.display),
    each piece on its own, so the highlight offsets move with the text."""
    from archive.safetext import display
    from archive.search.snippet import Snippet

    text, spans, pos = "", [], 0
    for start, end in snip.spans:
        text += display(snip.text[pos:start])
        mark = display(snip.text[start:end])
        spans.append((len(text), len(text) + len(mark)))
        text += mark
        pos = end
    text += display(snip.text[pos:])
    return Snippet(text, tuple(spans), snip.cut_before, snip.cut_after)


@click.command("search")
@click.argument("query")
@click.option("--category", "-c", help="档案类别（代码或中文名）。")
@click.option("--year", type=int, help="年度。")
@click.option("--retention", "-r", help="保管期限。")
@click.option("--household", help="户号。")
@click.option("--limit", default=20, show_default=True, help="最多显示条数。")
@click.option("--offset", default=0, show_default=True, help="跳过前 N 条（翻页）。")
@json_option
@click.pass_context
def search_cmd(ctx: click.Context, query: str, category: str | None, year: int | None,
               retention: str | None, household: str | None, limit: int, offset: int,
               as_json: bool) -> None:
    """全文检索：按相关度列出档号、题名、日期和摘要（命中处以【】标出，终端中另加颜色）。

    \b
    查询语法：
      低保 / 困境儿童 / 张          一个或几个字都可以
      "临时救助金"                  短语（引号）
      低保 AND 走访   低保 OR 特困   低保 NOT 注销   （也可写 与/或/非，或 -注销）
      救助*                         前缀
      title:档案管理   doc_no:国办发〔2019〕3号     字段
    \b
    示例：
      sgz search 临时救助 --category 服务 --year 2026
      sgz search "title:保密" --json
    只显示你无需说明事由即可查阅的档案，共计条数也只计这些；每次检索都记入审计日志。
    结果很多的常用词（每个全文索引超过 1000 件）只显示“N 条以上”，标题或文号命中的排在前面，
    其余按归档先后（新的在前），可用 --offset 继续翻页；加词可缩小范围。
    --json 输出的摘要为原文片段（text）加命中位置（spans，按字符计的起止偏移）；
    total_exact 为 false 时 total 是下限。
    """
    arc = open_archive(ctx)
    res = arc.search.query(query, category=category, year=year, retention=retention,
                           household=household, limit=limit, offset=offset)
    if as_json:
        from archive.search.service import hit_dict

        emit_json({"total": res.total, "total_exact": res.total_exact,
                   "no_text_records": res.no_text_count,
                   "fallback": res.fallback, "unindexed": res.unindexed,
                   "hits": [hit_dict(h) for h in res.hits]})
        return
    import sys

    from archive.safetext import display
    from archive.search.snippet import render_snippet

    color = sys.stdout.isatty()
    for h in res.hits:
        click.echo(f"{h.ref}  {display(h.title)}  {h.date}")
        if h.snippet_text:
            click.echo(f"    {render_snippet(_shown(h.snippet_obj), color=color)}")
    note = "（未找到完全匹配，以下为相近结果）" if res.fallback else ""
    info(f"{res.count_text}{note}")
    if res.unindexed:
        info(f"注意：全文索引缺少 {res.unindexed} 个文档，结果可能不全；请运行 sgz index rebuild")
    if res.no_text_count:
        info(f"另有 {res.no_text_count} 件档案未识别文字（如未安装 OCR 的扫描件），无法被全文检索")


@click.group("index")
def index_group() -> None:
    """全文索引（加密、可随时重建的派生数据）。"""


@index_group.command("rebuild")
@click.option("--fresh-key", is_flag=True, help="用新的随机密钥重建（销毁档案后自动如此）。")
@click.pass_context
def index_rebuild(ctx: click.Context, fresh_key: bool) -> None:
    """从档案库重建全文索引（显示进度）。

    \b
    示例：
      sgz index rebuild
    """
    arc = open_archive(ctx)

    def progress(done: int, total: int) -> None:
        info(f"已索引 {done}/{total}")

    n = arc.search.rebuild(fresh_key=fresh_key, progress=progress)
    info(f"索引重建完成：{n} 个文档")


@index_group.command("status")
@json_option
@click.pass_context
def index_status(ctx: click.Context, as_json: bool) -> None:
    """索引状态：文档数、未识别文字的档案数、文件大小、是否需要重建。

    \b
    示例：
      sgz index status --json
    """
    from archive.search.index import OLD_ORDER, OUTDATED

    arc = open_archive(ctx)
    st = arc.search.status()
    if as_json:
        emit_json(st)
        return
    if st.get("outdated"):
        click.echo(OUTDATED)
        return
    if not st["exists"]:
        click.echo("索引不存在" + ("，请运行 sgz index rebuild" if st["needs_rebuild"] else ""))
        return
    click.echo(f"已索引文档：{st['docs']}（目录中应有 {st['expected']}）")
    click.echo(f"未识别文字的档案：{st.get('records_without_text', 0)}")
    click.echo(f"索引大小：{st.get('size_bytes', 0) / 1024:.0f} KiB")
    if st["needs_rebuild"]:
        click.echo("需要重建：sgz index rebuild")
    elif st.get("old_order"):
        click.echo(OLD_ORDER)
