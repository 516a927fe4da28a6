"""End to end in Debian's chromium (Playwright): the station's daily work through `sgz serve`.

Each test serves a fresh station home on 127.0.0.1 (random port). Screenshots of the main pages
go to build/screens/ (1366×768). The last test scans the home and TMPDIR for canaries after the
browser has filed, searched, generated and downloaded.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CHEAP_WF, PASS
from web_fixtures import (  # noqa: F401
    Server,
    TickClock,
    browser_context_args,
    browser_type_launch_args,
    screenshot,
    server,
    sign_in,
    web_clock,
    web_home,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect


# ---------------------------------------------------------------------- documents
def pdf_with_text(lines: list[str], title: str = "") -> bytes:
    """A one-page PDF with a real Chinese text layer (what a scanner with OCR produces)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setTitle(title or lines[0])  # reportlab would write "untitled"
    c.setFont("STSong-Light", 14)
    y = 780
    for line in lines:
        c.drawString(72, y, line)
        y -= 24
    c.showPage()
    c.save()
    return buf.getvalue()


def docx_with_text(title: str, paragraphs: list[str]) -> bytes:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.add_heading(title, level=1)
    for p in paragraphs:
        d.add_paragraph(p)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def seed(home: Path, clock: TickClock, user: str, files: list[tuple[str, bytes]],
         **meta: Any) -> list[str]:
    """File documents through the library as `user` (setup for a scenario)."""
    from archive.app import Archive
    from archive.fs.sources import InMemoryFile

    with Archive.unlock(home, user=user, passphrase=PASS, clock=clock,
                        kdf_work_factor=CHEAP_WF) as arc:
        res = arc.records.file([InMemoryFile(n, d) for n, d in files], **meta)
    return [r.ref for r in res]


@pytest.fixture
def ctx2(browser: Any, browser_context_args: dict[str, Any]) -> Iterator[Any]:  # noqa: F811
    """A second browser (another person at another PC)."""
    context = browser.new_context(**browser_context_args)
    yield context
    context.close()


# ---------------------------------------------------------------------- scenarios
def test_archivist_files_a_scan_and_finds_it(page: Any, server: Server) -> None:  # noqa: F811
    sign_in(page, server.url, "lisi")
    expect(page.get_by_role("heading", name="保管期满、待鉴定的档案")).to_be_visible()
    screenshot(page, "home-archivist")
    page.get_by_role("link", name="归档").click()
    scan = pdf_with_text(["社工站办公室搬迁通知", "经研究决定，办公地点迁至民政服务大厅二楼。"],
                         title="办公室搬迁通知")
    page.get_by_label("把文件拖到这里，或点击选择（可多选）").set_input_files(
        [{"name": "搬迁通知扫描件.pdf", "mimeType": "application/pdf", "buffer": scan},
         {"name": "会议纪要.docx", "mimeType": "application/octet-stream",
          "buffer": docx_with_text("站务会议纪要", ["讨论办公室搬迁与档案室防潮。"])}])
    expect(page.locator("#file-list li")).to_have_count(2)
    page.get_by_label("类别").select_option("XZ")
    expect(page.locator("#f-retention option:checked")).to_contain_text("保管期限表默认")
    page.get_by_label("成文日期").fill("2026-11-20")
    page.get_by_role("button", name="归档").click()
    expect(page.get_by_role("status")).to_contain_text("已归档 2 件")
    refs = page.locator("#file-results td:nth-child(2)").all_inner_texts()
    assert len(refs) == 2 and all(re.fullmatch(r"Z001-WS·2026-(Y|D\d+)-XZ-\d{4}", r) for r in refs)
    screenshot(page, "file")

    # the same scan again is a duplicate, shown with the 档号 it already has
    page.get_by_label("把文件拖到这里，或点击选择（可多选）").set_input_files(
        [{"name": "重复.pdf", "mimeType": "application/pdf", "buffer": scan}])
    page.get_by_role("button", name="归档").click()
    expect(page.locator("#file-results")).to_contain_text(f"重复：已存于 {refs[0]}")

    page.get_by_role("link", name="检索").click()
    page.get_by_label("检索词").fill("民政服务大厅")
    page.get_by_role("button", name="检索").click()
    hit = page.locator("ol.hits li").first
    expect(hit).to_contain_text(refs[0])
    expect(hit.locator("mark").first).to_have_text(re.compile("民政服务大厅|民政|服务大厅"))
    screenshot(page, "search")

    page.get_by_role("link", name="档案目录").click()
    expect(page.locator("table")).to_contain_text("办公室搬迁通知")
    screenshot(page, "records")
    page.get_by_role("link", name=refs[0]).click()
    expect(page.get_by_role("heading", name=refs[0])).to_be_visible()
    expect(page.locator("dl.meta")).to_contain_text("办公室搬迁通知")
    expect(page.get_by_text("审计日志由站长、副站长、督导和主管部门查看")).to_be_visible()
    page.get_by_text("导出（须说明事由，记入审计）").click()
    page.get_by_label("事由").fill("核对原件")
    with page.expect_download() as dl:
        page.get_by_role("button", name="导出下载").click()
    assert Path(dl.value.path()).read_bytes() == scan
    screenshot(page, "item")

    with page.expect_download() as dl:
        page.goto(server.url + "/records")
        page.get_by_role("link", name="导出 Excel").click()
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes())).active
    assert [c.value for c in ws[1]][:5] == ["序号", "档号", "文号", "责任者", "题名"]
    assert {ws.cell(row=i, column=2).value for i in (2, 3)} == set(refs)


def test_social_worker_generates_an_agreement(page: Any, server: Server) -> None:  # noqa: F811
    sign_in(page, server.url, "wangwu")
    expect(page.get_by_role("heading", name="我负责的服务对象（一户一档）")).to_be_visible()
    screenshot(page, "home-social-worker")
    page.get_by_role("link", name="文书").click()
    expect(page.get_by_role("heading", name="协议")).to_be_visible()
    screenshot(page, "gen")
    page.get_by_role("link", name="服务转介同意书").click()
    page.get_by_label("个案编号").fill("GA-2026-031")
    page.get_by_label("服务对象姓名").fill("刘桂兰")
    page.get_by_label("负责社工").fill("王五")
    page.get_by_role("textbox", name="接收机构", exact=True).fill("双阳区精神卫生服务中心")
    page.get_by_label("转介原因").fill("服务对象情绪持续低落，需专业心理评估。")
    page.get_by_label("转介目的（拟接受的服务）").fill("心理评估与干预")
    page.get_by_label("随转介提供的资料").fill("个案服务记录摘要\n基本情况登记表")
    page.get_by_label("资料移交方式").select_option(index=1)
    # 接收机构联系人及电话 left empty: the error appears beside that field, nothing downloads
    page.get_by_role("button", name="下载 PDF").click()
    field = page.locator(".field.invalid")
    expect(field).to_have_count(1)
    expect(field).to_contain_text("接收机构联系人及电话")
    expect(field.locator(".field-error")).to_be_visible()
    expect(page.get_by_label("个案编号")).to_have_value("GA-2026-031")  # nothing typed is lost
    screenshot(page, "gen-form-error")
    page.get_by_label("接收机构联系人及电话").fill("陈医生 0431-84000001")
    page.get_by_role("button", name="预览第一页").click()
    preview = page.get_by_role("img", name="服务转介同意书 第一页预览")
    expect(preview).to_be_visible(timeout=120_000)
    assert preview.evaluate("i => i.naturalWidth") > 500  # a rendered page, not a stub
    preview.scroll_into_view_if_needed()
    screenshot(page, "gen-preview")
    with page.expect_download(timeout=120_000) as dl:
        page.get_by_role("button", name="下载 PDF").click()
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and dl.value.suggested_filename == "服务转介同意书.pdf"
    page.get_by_role("button", name="生成并归档").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("已生成并归档", timeout=120_000)
    ref = status.locator("a").first.inner_text()
    assert re.fullmatch(r"Z001-WS·2026-(Y|D\d+)-FW-\d{4}", ref)
    page.get_by_role("link", name=ref).click()
    expect(page.locator("dl.meta")).to_contain_text("服务转介同意书")
    expect(page.locator("dl.meta")).to_contain_text("wangwu")  # she is the responsible worker


def test_money_in_words_while_typing(page: Any, server: Server) -> None:  # noqa: F811
    sign_in(page, server.url, "zhangsan")
    page.goto(server.url + "/gen/service-purchase-agreement")
    amount = page.get_by_role("textbox", name="协议总金额（元）")
    amount.fill("186500")
    expect(page.locator("#fld-amount-dx")).to_have_text("大写：壹拾捌万陆仟伍佰元整")
    amount.fill("1234.5")
    expect(page.locator("#fld-amount-dx")).to_have_text(re.compile("壹仟贰佰叁拾肆元伍角"))
    amount.fill("12,34x")
    expect(page.locator("#fld-amount-dx")).to_have_text("（金额格式不正确）")
    screenshot(page, "gen-money")


def test_outside_request_approved_in_a_second_browser(page: Any, ctx2: Any,
                                                       server: Server) -> None:  # noqa: F811
    [ref] = seed(server.home, server.clock, "lisi",
                 [("站务会议纪要.pdf", pdf_with_text(["二〇二六年第三次站务会议纪要"]))],
                 category="XZ", date="2026-10-09")
    sign_in(page, server.url, "lisi")
    page.get_by_role("link", name="外单位查阅").click()
    page.get_by_label("查阅单位").fill("双阳区民政局")
    page.get_by_label("查阅人").fill("孙科员")
    page.get_by_label("介绍信扫描件").set_input_files(
        {"name": "介绍信.pdf", "mimeType": "application/pdf",
         "buffer": pdf_with_text(["介绍信", "兹介绍孙科员前往贵站查阅档案。"])})
    page.get_by_label("查阅目的").fill("年度工作检查")
    page.get_by_label("申请查阅的档号").fill(ref)
    page.get_by_role("button", name="登记").click()
    expect(page.get_by_role("heading", name=re.compile("查阅申请 CY-2026-"))).to_be_visible()
    no = re.search(r"CY-\d{4}-\d+", page.get_by_role("heading").first.inner_text()).group(0)
    expect(page.get_by_text("待批准后提供")).to_be_visible()

    head = ctx2.new_page()
    sign_in(head, server.url, "zhangsan")
    card = head.locator("section", has=head.get_by_role("heading", name="待审批的外单位查阅"))
    expect(card.locator(".count")).to_have_text("1")
    screenshot(head, "home-head")
    card.get_by_role("link", name=no).click()
    head.get_by_role("button", name="批准").click()
    expect(head.get_by_role("status")).to_contain_text("已批准")

    page.reload()
    with page.expect_download(timeout=120_000) as dl:
        page.get_by_role("button", name="下载查阅件（水印 PDF）").click()
    data = Path(dl.value.path()).read_bytes()
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert pdf.is_encrypted and not pdf.allow.extract and not pdf.allow.print_highres
    page.reload()
    expect(page.locator("table").last).to_contain_text(f"{no}")  # the register of copies
    screenshot(page, "access-request")
    page.get_by_role("link", name="返回外单位查阅").click()
    screenshot(page, "access")


def test_destruction_with_two_witnesses(page: Any, ctx2: Any, server: Server) -> None:  # noqa: F811
    refs = seed(server.home, server.clock, "lisi",
                [("2010年办公用品领用登记.pdf", pdf_with_text(["二〇一〇年办公用品领用登记"])),
                 ("2010年值班表.pdf", pdf_with_text(["二〇一〇年值班表"]))],
                category="XZ", retention="D10", date="2010-03-01")
    sign_in(page, server.url, "lisi")
    page.get_by_role("link", name="保管期限与销毁").click()
    for r in refs:
        page.get_by_label(f"选择 {r}").check()
    page.get_by_label("鉴定意见").fill("经鉴定，已无保存价值，拟销毁。")
    screenshot(page, "retention")
    page.get_by_role("button", name="提出销毁（生成销毁清册）").click()
    expect(page.get_by_role("status")).to_contain_text("已提出销毁批次")
    bid = re.search(r"XH-\d{4}-\d+", page.get_by_role("heading").first.inner_text()).group(0)

    head = ctx2.new_page()
    sign_in(head, server.url, "zhangsan")
    head.locator("section", has=head.get_by_role("heading", name="待批准的销毁批次")) \
        .get_by_role("link", name=bid).click()
    head.get_by_role("button", name="批准销毁").click()
    expect(head.get_by_role("status")).to_contain_text("已批准")

    page.reload()
    page.get_by_label("监销人 1").fill("zhaoliu")
    page.get_by_label("监销人 2").fill("lisi")  # the executor cannot witness her own work
    page.get_by_label("我确认监销人均在场，销毁不可恢复").check()
    page.get_by_role("button", name="执行销毁").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("监销人不得由执行人本人担任")
    expect(page.get_by_label("监销人 1")).to_have_value("zhaoliu")  # what was typed is kept
    page.get_by_label("监销人 2").fill("qianqi")
    page.get_by_label("我确认监销人均在场，销毁不可恢复").check()
    page.get_by_role("button", name="执行销毁").click()
    expect(page.get_by_role("status")).to_contain_text("已在监销人见证下执行销毁", timeout=60_000)
    expect(page.locator("dl.meta")).to_contain_text("zhaoliu、qianqi")
    screenshot(page, "disposal-batch")
    page.goto(server.url + f"/records/{refs[0]}")
    expect(page.locator("dl.meta")).to_contain_text("已销毁")
    expect(page.get_by_text("导出（须说明事由，记入审计）")).to_have_count(0)


def test_sign_out_and_idle_timeout_wipe_the_session(page: Any, server: Server) -> None:  # noqa: F811
    sign_in(page, server.url, "zhangsan")
    store = server.app.state.sessions
    first = store.live()[0]
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert len(store) == 0 and first.closed and first.archive is None
    page.goto(server.url + "/records")
    expect(page).to_have_url(re.compile(r"/login\?next=/records"))
    screenshot(page, "login")

    sign_in(page, server.url, "zhangsan")
    second = store.live()[0]
    server.clock.advance(minutes=15, seconds=1)
    page.get_by_role("link", name="档案目录").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert len(store) == 0 and second.closed
    deadline = time.monotonic() + 10  # the session's thread closes the archive right after
    while second.archive is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert second.archive is None and second.worker._shutdown


def test_post_without_csrf_token_is_refused_in_the_browser(page: Any,
                                                           server: Server) -> None:  # noqa: F811
    sign_in(page, server.url, "zhangsan")
    form = {"name": "mallory", "role": "head", "passphrase": PASS, "passphrase2": PASS}
    r = page.request.post(server.url + "/users/add", form=form)  # the browser's own cookie
    assert r.status == 403 and "CSRF" in r.text()
    page.goto(server.url + "/users")
    expect(page.locator("table")).not_to_contain_text("mallory")
    screenshot(page, "users")


def test_nothing_of_a_compartment_she_does_not_hold(page: Any, server: Server) -> None:  # noqa: F811
    [secret] = seed(server.home, server.clock, "lisi",
                    [("人员调整请示.docx", docx_with_text("关于人员调整的请示（秘密）",
                                                       ["拟调整岗位的人员名单：周小燕。"]))],
                    category="XZ", secrecy="秘密", household="H-SECRET-01")
    sign_in(page, server.url, "wangwu")  # a social worker: not in the secret compartment
    page.get_by_role("link", name="档案目录").click()
    body = page.locator("main")
    expect(body).not_to_contain_text(secret)
    expect(body).not_to_contain_text("人员调整")
    expect(body).to_contain_text("共 0 件")
    page.get_by_role("link", name="检索").click()
    page.get_by_label("检索词").fill("周小燕")
    page.get_by_role("button", name="检索").click()
    expect(page.get_by_role("status")).to_contain_text("共 0 条")
    expect(page.locator("main")).not_to_contain_text("人员调整")
    r = page.request.get(server.url + f"/records/{secret}")
    assert r.status == 403 and "人员调整" not in r.text() and "H-SECRET" not in r.text()
    page.goto(server.url + "/records?household=H-SECRET-01")
    expect(page.locator("main")).to_contain_text("共 0 件")


def test_every_main_page_renders_for_the_head(page: Any, server: Server) -> None:  # noqa: F811
    [ref] = seed(server.home, server.clock, "lisi",
                 [("年度工作计划.docx", docx_with_text("二〇二六年度工作计划", ["全年服务计划。"]))],
                 category="XZ")
    sign_in(page, server.url, "zhangsan")
    page.goto(server.url + f"/records/{ref}")
    page.get_by_role("link", name="查看本件的全部审计记录").click()
    history = page.locator("table").last  # the item's own audit history, in Chinese
    expect(history).to_contain_text("归档")
    expect(history).to_contain_text("lisi")
    for path, heading, shot in (("/audit", "审计日志", "audit"), ("/system", "系统", "system"),
                                ("/users", "用户", None), ("/retention", "保管期限与销毁", None)):
        page.goto(server.url + path)
        expect(page.get_by_role("heading", name=re.compile(heading)).first).to_be_visible()
        if shot:
            screenshot(page, shot)
    page.goto(server.url + "/audit")
    page.get_by_role("button", name="校验日志完整性").click()
    expect(page.get_by_role("status")).to_contain_text("完整：共")
    page.goto(server.url + "/audit")
    with page.expect_download() as dl:
        page.get_by_role("button", name="签发并下载检查点（打印报送）").click()
    note = Path(dl.value.path()).read_text(encoding="utf-8")
    assert note.startswith("sgz/") and "\n— " in note
    page.goto(server.url + "/system")
    page.get_by_role("button", name="开始检查").click()
    expect(page.get_by_role("status")).to_contain_text("检查通过", timeout=60_000)
    dest = server.home.parent / "backup-1"
    page.get_by_label("备份到文件夹（如移动硬盘上的新文件夹）").fill(str(dest))
    page.get_by_role("button", name="备份").click()
    expect(page.get_by_role("status")).to_contain_text("已备份到", timeout=60_000)
    assert dest.is_dir() and sum(1 for p in dest.rglob("*") if p.is_file()) > 3
    # keyboard only: Tab from the top reaches the skip link, then the menu
    page.goto(server.url + "/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到正文")).to_be_focused()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own TMPDIR (set before the server starts), so the scan covers exactly what
    the server could have written."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


@pytest.fixture
def canary_server(private_tmp: Path, web_home: Path,  # noqa: F811
                  web_clock: TickClock) -> Iterator[Server]:  # noqa: F811
    from web_fixtures import serve

    yield from serve(web_home, web_clock)


def test_canary_scan_after_the_browser_scenarios(page: Any, canary_server: Server,
                                                 private_tmp: Path) -> None:
    """Upload, search, generate and download canaries through the browser; then nothing
    readable under the home or TMPDIR (the uploads never touched the disk in clear)."""
    from test_canary import CANARIES, _docx_with_canaries, scan

    srv = canary_server
    sign_in(page, srv.url, "wangwu")
    page.get_by_role("link", name="归档").click()
    big = _docx_with_canaries()
    page.get_by_label("把文件拖到这里，或点击选择（可多选）").set_input_files(
        [{"name": "入户走访记录.docx", "mimeType": "application/octet-stream", "buffer": big},
         {"name": "大扫描件.pdf", "mimeType": "application/pdf",
          "buffer": pdf_with_text([f"{CANARIES[0]} {CANARIES[1]} {CANARIES[3]}"] * 30)
          + b"%" + os.urandom(3 * 1024 * 1024)}])  # over Starlette's 1 MiB spool threshold
    page.get_by_label("类别").select_option("FW")
    page.get_by_label("户号（服务档案一户一档）").fill(CANARIES[4])
    page.get_by_role("button", name="归档").click()
    expect(page.get_by_role("status")).to_contain_text("已归档 2 件", timeout=60_000)
    page.get_by_role("link", name="检索").click()
    page.get_by_label("检索词").fill(CANARIES[0])
    page.get_by_role("button", name="检索").click()
    expect(page.locator("ol.hits li").first).to_be_visible()
    assert scan([srv.home, private_tmp]) == []
