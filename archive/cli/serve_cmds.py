"""`sgz serve`: the browser UI on this PC (loopback only), over the same library as the CLI."""

from __future__ import annotations

import threading
import webbrowser

import click

from archive.cli.common import home_path, info, kdf_work_factor


@click.command("serve")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535), metavar="端口号",
              help="端口（只在本机 127.0.0.1 上监听，其他电脑无法访问）。")
@click.option("--open", "open_browser", is_flag=True, help="启动后用默认浏览器打开。")
@click.pass_context
def serve_cmd(ctx: click.Context, port: int, open_browser: bool) -> None:
    """启动网页界面：在浏览器中登录、归档、检索、生成文书、审批查阅与销毁。

    只监听本机（127.0.0.1），不需要网络；每位工作人员用自己的用户名和口令登录，
    退出登录、闲置 15 分钟或登录满 8 小时后自动失效。按 Ctrl+C 停止。

    为了让粘贴整句的检索也快，登录后会在后台为全文索引建立内存中的位置表（每 5 万份文档
    约 170 MiB，建立约需半分钟到一分钟；建好前照常检索，只是整句稍慢）。最后一位持有该
    索引的人退出后即释放。内存上限用环境变量 SGZ_SEARCH_MEMORY_MB 设定（默认 1024）。

    \b
    示例：
      sgz serve --open
      sgz --home D:\\社工站档案 serve --port 8800
    """
    import uvicorn

    from archive.errors import NotFound
    from archive.kernel.home import HomePaths
    from archive.web.app import create_app

    home = home_path(ctx)
    if not HomePaths(home).is_initialised():
        raise NotFound(f"{home} 不是 sgz 站点目录；请先运行 sgz init，或用 --home 指定")
    app = create_app(home, archive_kw={"kdf_work_factor": kdf_work_factor()})
    url = f"http://127.0.0.1:{port}/"
    info(f"网页界面已启动：{url}（按 Ctrl+C 停止）")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    # no access log: URLs can carry 档号 and filters, and the terminal is not a place for them
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                server_header=False, date_header=False)
