"""Demo items for the paper-side and transfer tests (a station's 2026 year)."""

from __future__ import annotations

from archive.paper.items import Fonds, PaperItem

FONDS = Fonds("Z001", "长春市双阳区奢岭街道社会工作服务站")
TITLES = ["关于开展困难群众走访慰问工作的通知", "社会工作服务站2026年度工作计划",
          "王某某家庭个案服务记录", "社区老年人需求评估报告", "志愿者培训签到表"]


def demo_items(n: int = 12, *, cls: str = "FW", cls_name: str = "服务", retention: str = "D30",
               box_size: int = 5) -> list[PaperItem]:
    out = []
    for i in range(1, n + 1):
        out.append(PaperItem(
            ref=f"Z001-WS·2026-{retention}-{cls}-{i:04d}", year=2026, retention=retention,
            cls=cls, cls_name=cls_name, item=i, title=TITLES[i % len(TITLES)] + f"（{i}）",
            doc_no=f"奢社工〔2026〕{i}号" if i % 3 else "", author="奢岭街道社会工作服务站",
            date=f"202603{i % 28 + 1:02d}", secrecy="", pages=i % 4 + 1,
            note="", box_no=str((i - 1) // box_size + 1)))
    return out
