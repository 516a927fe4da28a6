"""Evaluation corpus and judged queries for search relevance (fixed seed, by construction).

Documents are built from templates and vocabularies modelled on a township social-work
station's records: policy notices with 文号, service records per household (一户一档), and
application forms, plus a few hand-written ones. Each query's relevant documents are known
from how the corpus was built (the household, 文号 or sentence it targets), never from the
engine. Run as a script to print counts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from archive.search.t2s_table import SIMPLIFIED, TRADITIONAL

SEED = 20260705
_S2T = {s: t for t, s in zip(TRADITIONAL, SIMPLIFIED, strict=True)}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
RARE_SURNAMES = "郜蔺禹鞠阚嵇靳滕晏巫"
GIVEN = "秀英桂兰玉珍凤华淑芳丽敏静霞红梅建国志强永军海波德明春生金山宝林福贵长青振东立新文杰晓燕雪琴俊峰慧娟丹丹子涵欣怡浩然宇轩诗雨梓萱"
VILLAGES = ["柳树屯村", "石头河子村", "榆林堡村", "杏花岭村", "双庙子村", "马家窝堡村", "腰站村",
            "太平沟村", "黑鱼泡村", "小营盘村", "东岗子村", "靠山屯村"]
ORGS = ["国办发", "民发", "吉民发", "长民发", "双政办发", "奢政发", "财社", "吉财社"]
TOPICS = ["最低生活保障", "特困人员救助供养", "临时救助", "困境儿童保障", "农村留守老人关爱服务",
          "残疾人两项补贴", "社会工作服务站建设", "养老服务补贴", "孤儿基本生活保障",
          "防止返贫监测帮扶", "社会救助资金监管", "高龄津贴发放"]
ACTIONS = ["进一步做好", "切实加强", "做好", "规范", "全面推进", "深入开展"]
SERVICES = ["入户走访", "节日慰问", "个案辅导", "政策宣传", "心理疏导", "资源链接", "小组活动"]
NEEDS = ["低保", "特困供养", "临时救助", "困境儿童", "残疾补贴", "高龄津贴", "医疗救助"]
POLICY_SENTENCES = [
    "各地要坚持应保尽保、应救尽救，确保{topic}政策落实到位。",
    "要建立健全主动发现机制，依托社会工作服务站开展排查，做到早发现、早介入、早救助。",
    "乡镇（街道）民政办要会同社会工作服务站，对{topic}对象实行动态管理。",
    "资金要专款专用，严禁挤占挪用，{year}年底前完成专项检查。",
    "对符合条件的对象，审批时限原则上不超过{days}个工作日。",
    "各单位要于{month}月{day}日前将工作开展情况报送县民政局社会救助股。",
    "要加强社会工作专业人才队伍建设，每个站点至少配备{staff}名持证社工。",
    "本通知自印发之日起施行，此前有关规定与本通知不一致的，以本通知为准。",
]
RECORD_SENTENCES = [
    "社工{worker}于{date}到{village}{name}家中开展{service}。",
    "{name}，{age}岁，家庭人口{members}人，目前享受{need}待遇。",
    "服务对象反映{problem}，社工当场做了记录并承诺{days}个工作日内答复。",
    "经评估，该户存在{problem}的风险，建议纳入重点关注名单。",
    "下一步将链接{resource}资源，协助其解决实际困难。",
    "本次服务时长{minutes}分钟，服务对象签字确认。",
]
PROBLEMS = ["子女外出务工无人照料", "慢性病医疗费用负担重", "住房漏雨需要修缮", "孩子辍学在家",
            "冬季取暖困难", "残疾证到期需要换证", "低保金发放延迟"]
RESOURCES = ["乡镇卫生院", "村委会", "慈善总会", "志愿者服务队", "县残联", "学校"]


@dataclass
class Doc:
    """One evaluation document."""

    doc_id: str
    title: str
    text: str
    doc_no: str = ""
    date: str = ""
    category: str = "FW"
    year: int = 2026
    household: str = ""


@dataclass
class Query:
    """One judged query: the kind (for the report) and the relevant doc ids."""

    kind: str
    text: str
    relevant: list[str] = field(default_factory=list)


def to_traditional(text: str) -> str:
    """Simplified → traditional for the characters the table knows (for variant queries)."""
    return "".join(_S2T.get(c, c) for c in text)


def full_width(text: str) -> str:
    """ASCII digits and letters → full-width forms."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def build(seed: int = SEED) -> tuple[list[Doc], list[Query]]:
    """Build the corpus and the judged queries."""
    rnd = random.Random(seed)
    docs: list[Doc] = []
    queries: list[Query] = []
    counter = {"n": 0}

    def new_id(cat: str, ret: str = "D30") -> str:
        counter["n"] += 1
        return f"Z001-WS·2026-{ret}-{cat}-{counter['n']:04d}"

    used_names: set[str] = set()

    def person(rare: str | None = None) -> str:
        while True:
            name = (rare or rnd.choice(SURNAMES)) + "".join(rnd.sample(GIVEN, 2))
            if name not in used_names:
                used_names.add(name)
                return name

    # Policy notices with 文号.
    for i in range(70):
        topic = TOPICS[i % len(TOPICS)]
        org = ORGS[i % len(ORGS)]
        year = 2015 + i % 11
        number = 3 + i * 7 % 180
        doc_no = f"{org}〔{year}〕{number}号"
        title = f"关于{rnd.choice(ACTIONS)}{topic}工作的通知"
        sents = rnd.sample(POLICY_SENTENCES, 5)
        unique = f"经研究，决定在{rnd.choice(VILLAGES[:6])}等地开展{topic}试点，试点编号为{year}{number:03d}。"
        body = "各乡镇人民政府、街道办事处：\n" + "".join(
            s.format(topic=topic, year=year, days=rnd.randint(5, 30), month=rnd.randint(1, 12),
                     day=rnd.randint(1, 28), staff=rnd.randint(1, 5)) for s in sents)
        body = body + unique + f"\n{org[:2]}民政局\n{year}年{rnd.randint(1, 12)}月{rnd.randint(1, 28)}日"
        d = Doc(new_id("XZ", "Y"), title, body, doc_no, f"{year}-06-01", "XZ", year)
        docs.append(d)
        if i < 15:
            queries.append(Query("docno", doc_no, [d.doc_id]))
        elif i < 22:
            queries.append(Query("docno_ascii", doc_no.replace("〔", "[").replace("〕", "]"),
                                 [d.doc_id]))
        elif i < 30:
            queries.append(Query("fullwidth", full_width(doc_no), [d.doc_id]))
        elif i < 45:
            queries.append(Query("sentence", unique, [d.doc_id]))
        elif i < 52:
            # cut mid-word at the start: 低生活保障试点，试点编号为…
            queries.append(Query("fragment", f"{topic[1:]}试点，试点编号为{year}{number:03d}",
                                 [d.doc_id]))

    # Households with service records and forms (一户一档).
    households: list[tuple[str, str, list[str]]] = []
    for h in range(60):
        rare = RARE_SURNAMES[h] if h < len(RARE_SURNAMES) else None
        name = person(rare)
        village = VILLAGES[h % len(VILLAGES)]
        ids: list[str] = []
        for _ in range(1 + h % 3):
            year = 2024 + rnd.randint(0, 2)
            date = f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
            service = rnd.choice(SERVICES)
            need = rnd.choice(NEEDS)
            worker = person()
            fmt = {"worker": worker, "date": date, "village": village, "name": name,
                   "service": service, "age": rnd.randint(6, 92), "members": rnd.randint(1, 6),
                   "need": need, "problem": rnd.choice(PROBLEMS), "days": rnd.randint(3, 15),
                   "resource": rnd.choice(RESOURCES), "minutes": rnd.randint(20, 120)}
            body = "".join(s.format(**fmt) for s in RECORD_SENTENCES)
            title = f"{name}户{service}服务记录"
            d = Doc(new_id("FW"), title, body, "", date, "FW", year, name)
            docs.append(d)
            ids.append(d.doc_id)
        if h % 2 == 0:
            amount = 500 + 37 * h
            form = (f"临时救助申请审批表\n申请人：{name}　住址：{village}\n申请事由：{rnd.choice(PROBLEMS)}"
                    f"\n申请金额：{amount}元\n家庭成员：{rnd.randint(1, 6)}人\n"
                    f"村委会意见：情况属实，同意上报。\n乡镇审核意见：拟救助{amount}元。")
            d = Doc(new_id("FW"), f"{name}临时救助申请审批表", form, "", "2026-03-01", "FW",
                    2026, name)
            docs.append(d)
            ids.append(d.doc_id)
            if h < 20:
                queries.append(Query("question", f"{name}申请临时救助需要多少钱？", [d.doc_id]))
        households.append((name, village, ids))
    for h, (name, _village, ids) in enumerate(households):
        if h < len(RARE_SURNAMES):
            queries.append(Query("one_char", name[0], ids))
        if h < 30:
            queries.append(Query("name", name, ids))
        elif h < 40:
            records = [i for i in ids if not docs_by_id(docs)[i].title.endswith("审批表")]
            queries.append(Query("name_trad", f"{to_traditional(name)} 服務記錄", records))
        elif h < 45:
            records = [i for i in ids if not docs_by_id(docs)[i].title.endswith("审批表")]
            queries.append(Query("boolean", f"{name} AND (服务记录 OR 走访) -审批表", records))

    # Forms and hand-written documents.
    hand = [
        ("社会工作服务站章程", "第一条 为规范社会工作服务站的运行管理，根据《吉林省乡镇（街道）社会工作服务站建设指引》，制定本章程。第二条 本站坚持党建引领、专业服务的原则。"),
        ("社工站档案管理制度", "档案实行一户一档，服务记录、评估表、协议书应及时归档。档案管理员负责档案的收集、整理、保管和利用，借阅须登记。"),
        ("困境儿童关爱服务协议书", "甲方：奢岭街道社会工作服务站；乙方：监护人。甲方为儿童提供学业辅导、心理支持和安全教育，乙方应配合定期回访。"),
        ("社工站年度工作总结", "全年累计入户走访困难群众1286人次，开展小组活动42场，链接慈善资金8.6万元，协助办理残疾人两项补贴37件。"),
        ("志愿者招募公告", "现面向社会招募关爱留守老人志愿者二十名，要求热心公益、身体健康，每月参加服务不少于八小时。"),
        ("督导评估反馈意见", "督导认为个案记录较为规范，但需求评估部分过于简略，建议采用标准化评估量表并补充家庭生态图。"),
        ("低保动态管理台账说明", "台账按月更新，记录新增、停保、调标情况，停保须书面告知并说明理由和救济途径。"),
        ("冬季取暖补贴发放公示", "经村级评议、乡镇审核，拟对下列二十三户困难家庭发放冬季取暖补贴，每户八百元，公示期七天。"),
        ("社工站消防安全检查记录", "检查发现灭火器压力不足两具，安全出口标识灯损坏一处，已责令限期整改。"),
        ("关于规范社会救助经办服务的提示", "窗口应实行一次性告知，对申请材料不全的，应当场告知需补齐的全部材料，不得让群众多跑路。"),
    ]
    for title, text in hand:
        d = Doc(new_id("XZ"), title, text, "", "2026-01-15", "XZ", 2026)
        docs.append(d)
    by_title = {d.title: d.doc_id for d in docs}
    queries += [
        Query("short", "章程", [by_title["社会工作服务站章程"]]),
        Query("short", "台账", [by_title["低保动态管理台账说明"]]),
        Query("short", "消防", [by_title["社工站消防安全检查记录"]]),
        Query("short", "督导", [by_title["督导评估反馈意见"]]),
        Query("short", "公示", [by_title["冬季取暖补贴发放公示"]]),
        Query("title", "title:档案管理", [by_title["社工站档案管理制度"]]),
        Query("phrase", '"一次性告知"', [by_title["关于规范社会救助经办服务的提示"]]),
        Query("fragment", "态管理台", [by_title["低保动态管理台账说明"]]),
        Query("fragment", "儿童提供学业", [by_title["困境儿童关爱服务协议书"]]),
        Query("trad", "志願者招募", [by_title["志愿者招募公告"]]),
        Query("trad", "檔案管理員負責", [by_title["社工站档案管理制度"]]),
        Query("trad", "滅火器壓力不足", [by_title["社工站消防安全检查记录"]]),
        Query("fullwidth", "累计入户走访困难群众１２８６人次", [by_title["社工站年度工作总结"]]),
        Query("question", "志愿者每个月要服务多少小时？", [by_title["志愿者招募公告"]]),
        Query("question", "停保的时候要不要书面告知", [by_title["低保动态管理台账说明"]]),
        Query("prefix", "灭火*", [by_title["社工站消防安全检查记录"]]),
        Query("not", "协议书 -监护人", []),
        Query("boolean", "督导 与 量表", [by_title["督导评估反馈意见"]]),
        Query("boolean", "章程 或 总结", [by_title["社会工作服务站章程"], by_title["社工站年度工作总结"]]),
    ]
    queries = [q for q in queries if q.relevant]
    return docs, queries


def docs_by_id(docs: list[Doc]) -> dict[str, Doc]:
    """Index documents by id."""
    return {d.doc_id: d for d in docs}


if __name__ == "__main__":
    corpus, judged = build()
    kinds: dict[str, int] = {}
    for q in judged:
        kinds[q.kind] = kinds.get(q.kind, 0) + 1
    print(len(corpus), "documents,", len(judged), "queries:", kinds)  # noqa: T201
