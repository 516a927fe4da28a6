"""`sgz transfer export|verify`: the package handed to the county archive (档发〔2012〕7号)."""

from __future__ import annotations

import click

from archive.cli.common import emit_json, info, json_option, open_archive


@click.group("transfer")
def transfer_group() -> None:
    """移交进馆：导出年度电子档案移交包，校验收到的移交包（四性检测）。

    \b
    示例：
      sgz transfer export --year 2026 -o /media/usb/移交-2026 --reason 2026年度档案进馆
      sgz transfer verify /media/usb/移交-2026
    """


@transfer_group.command("export")
@click.option("--year", type=int, required=True, help="移交的年度。")
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False),
              help="目标文件夹（新建或空文件夹，不能在加密目录 vault/、indexes/ 内；宜用移交用的 U 盘或光盘）。")
@click.option("--reason", required=True, help="移交事由（记入审计日志和移交登记表）。")
@click.option("--bag", is_flag=True, help="再封装为 BagIt 包（data/ 下为移交包）。")
@click.option("--no-renditions", is_flag=True, help="不制作 PDF/A 长期保存版本（只用于测试和估时）。")
@json_option
@click.pass_context
def export_cmd(ctx: click.Context, year: int, out: str, reason: str, bag: bool,
               no_renditions: bool, as_json: bool) -> None:
    """导出一个年度的电子档案移交包（须站长或副站长本人执行，并说明事由）。

    档案按《电子档案移交与接收办法》解密导出：每件一个 DA/T 48 封装包（DA/T 46 元数据、
    SHA-256 与 SM3 摘要）、原件、加盖归档章的 PDF/A-2b 长期保存版本，另有文件目录、XML 模式、
    移交登记表和四性检测报告。执行人即批准人；每个文件的解密都记入审计日志，并提请站长关注。
    检测不通过时退出码 8。

    \b
    示例：
      sgz transfer export --year 2026 -o /media/usb/移交-2026 --reason 2026年度档案进馆
      sgz transfer export --year 2025 -o 移交-2025 --reason 补交 --bag
    """
    arc = open_archive(ctx)

    def progress(done: int, total: int, ref: str) -> None:
        if not as_json:
            info(f"[{done}/{total}] {ref}")

    summary, report = arc.transfer.export(year, out, reason=reason, bag=bag,
                                          renditions=not no_renditions, progress=progress)
    if as_json:
        emit_json({"id": str(summary.out), "records": summary.records, "files": summary.files,
                   "bytes": summary.bytes, "problems": summary.problems, "ok": report.ok,
                   "failures": [f.__dict__ for f in report.failures]})
    else:
        click.echo(str(summary.out))
        info(f"已导出 {summary.records} 件、{summary.files} 个文件（{summary.bytes} 字节）")
        for p in summary.problems:
            info(f"注意：{p}")
        for f in report.failures:
            info(f"[不通过] {f.prop}·{f.check}：{f.message} {f.ref} {f.file}".rstrip())
        info("四性检测：" + ("通过" if report.ok else "不通过") + "（报告在 其他/四性检测报告.TXT）")
    if not report.ok:
        ctx.exit(8)


@transfer_group.command("verify")
@click.argument("package", type=click.Path(file_okay=False), metavar="移交包文件夹")
@json_option
def verify_cmd(package: str, as_json: bool) -> None:
    """接收方校验移交包：重做四性检测（不需要本站密钥，也不需要站点目录）。

    逐项报告真实性、完整性、可用性、安全性；有问题时指明档号和文件，退出码 8。

    \b
    示例：
      sgz transfer verify /media/usb/移交-2026
    """
    from archive.transfer import checks
    from archive.transfer.service import TransferService

    report = TransferService.verify(package)
    if as_json:
        emit_json({"id": package, "ok": report.ok, "records": report.records,
                   "files": report.files, "failures": [f.__dict__ for f in report.failures]})
    else:
        click.echo(checks.format_report(report), nl=False)
    if not report.ok:
        raise SystemExit(8)
