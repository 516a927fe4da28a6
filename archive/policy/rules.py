"""The access policy: may this user do this action to this record (DESIGN §7).

Every command asks `decide` (or `require`) before acting; every decision names the rule and
its source clause in Chinese so refusals can be shown and logged as they are. The policy is
pure: it reads only the facts it is given (actor, record facts, context flags) and fails
closed — a missing context flag counts as "not satisfied".

Sources: guideline 附件2 四（档案管理制度）、六（服务规范程序）、八（保密制度）; DESIGN §7.
The generated table is docs/access-policy.md (`python -m archive.policy.table --markdown`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archive.errors import AccessDenied, UsageError
from archive.policy.roles import ROLE_COMPARTMENTS, ROLES

CATEGORIES: dict[str, str] = {"XZ": "行政", "FW": "服务", "RS": "人事", "CW": "财务"}

ACTIONS: dict[str, str] = {
    "record.file": "归档",
    "record.read_meta": "查看目录信息",
    "record.read": "查阅/解密导出",
    "record.correct": "更正（新增版本）",
    "record.complete": "补充定稿或签字扫描件",
    "record.export_subject": "为服务对象导出其资料",
    "record.refer": "转介导出",
    "record.export_anon": "匿名化导出",
    "search": "全文检索",
    "user.manage": "管理用户",
    "access.register": "登记外单位查阅申请",
    "access.approve": "批准外单位查阅",
    "access.deny": "驳回外单位查阅",
    "access.view": "制作查阅件（水印）",
    "access.copy": "制作复制件",
    "hold.manage": "设置/解除冻结",
    "disposal.propose": "提出销毁",
    "disposal.approve": "批准销毁",
    "disposal.execute": "执行销毁",
    "audit.read": "查看审计日志",
    "audit.details": "查看审计详情（事由、外单位等）",
    "audit.verify": "校验审计日志",
    "keys.rotate": "轮换密钥",
    "backup": "备份",
    "check": "完整性检查",
    "gen": "生成文书",
    "record.archive_pdf": "制作加盖归档章的长期保存版本",
    "print": "打印归档文件目录、备考表、盒脊",
    "paper.place": "登记盒号和存放位置",
    "paper.lend": "借出纸质原件",
    "paper.return": "归还纸质原件（清点核对）",
    "paper.resolve": "处理归还问题",
    "paper.read": "查看借阅登记",
    "transfer.export": "移交进馆导出",
}

# Actions that concern one record: `decide` requires RecordFacts for them.
RECORD_ACTIONS = frozenset({
    "record.file", "record.read_meta", "record.read", "record.correct", "record.complete",
    "record.export_subject", "record.refer", "record.export_anon",
    "access.view", "access.copy", "hold.manage",
    "disposal.propose", "disposal.approve", "disposal.execute",
    "record.archive_pdf", "paper.lend",
})

MANAGERS = frozenset({"head", "deputy", "archivist"})
STAFF = frozenset({"head", "deputy", "archivist", "social_worker"})


@dataclass(frozen=True)
class Actor:
    """A logged-in user: name and one of ROLES."""

    name: str
    role: str


@dataclass(frozen=True)
class RecordFacts:
    """What the policy needs to know about a record; nothing else leaks into it."""

    category: str  # 问题 code: XZ FW RS CW
    responsible: str | None = None  # social worker in charge (service records)
    filed_by: str | None = None  # who filed it (user name)
    precious: bool = False  # 珍贵
    secret: bool = False  # 密级 other than 公开
    held: bool = False  # under a hold: cannot be destroyed
    destroyed: bool = False  # crypto-shredded: catalogue line only


@dataclass(frozen=True)
class Decision:
    """The answer: allowed or not, the rule (Chinese, with its source) and what must follow."""

    allowed: bool
    rule: str
    needs_reason: bool = False  # a reason must be given and logged
    flag: bool = False  # flagged for the head's attention


def _yes(rule: str) -> Decision:
    return Decision(True, rule)


def _no(rule: str) -> Decision:
    return Decision(False, rule)


def _with_reason(rule: str, ctx: dict[str, Any], *, flag: bool) -> Decision:
    """Allowed only when ctx carries a non-empty reason; the reason is then logged."""
    reason = ctx.get("reason")
    if isinstance(reason, str) and reason.strip():
        return Decision(True, rule, needs_reason=True, flag=flag)
    return Decision(False, rule + "（未说明事由，拒绝）", needs_reason=True, flag=flag)


def _roles(rule: str, allowed: frozenset[str] | set[str], role: str) -> Decision:
    return _yes(rule) if role in allowed else _no(rule)


# --- rule texts (one place, so docs and refusals say the same) ---------------------------

R_DESTROYED = "档案已销毁：仅保留目录著录信息，内容不可再访问"
R_SECRET = "附件2 四(四)1：密级档案仅限站长、副站长和档案管理员接触"
R_FW_READ = "附件2 六(二)3、八.3：服务档案只容许负责社工、督导查阅，站长负责全站档案"
R_FW_OTHER = "附件2 六(二)3、八.3：非负责社工、督导、站长查阅服务档案须说明事由，记入审计并提请站长关注"
R_AUTHORITY = "附件2 四(三)1：社工站主管部门有权查阅各门类档案（督导检查）"
R_XZ_READ = "附件2 四(三)2：工作人员按档案查阅管理办法查阅行政档案"
R_RS_CW = "附件2 四(四)2：人事、财务档案仅限站长、副站长、档案管理员和主管部门查阅"
R_FILE = "附件2 四(二)2：工作人员形成的行政、服务文件由其本人或档案管理员归档"
R_FILE_RS_CW = "附件2 四(二)：人事、财务档案由站长、副站长或档案管理员归档"
R_CORRECT = "附件2 六(三)2：更正须由负责人员提出并说明理由，新增版本、不覆盖原件"
R_COMPLETE = ("附件2 四(二)2、六(三)2：为已归档的档案补充定稿、签字扫描件，由负责社工"
              "（行政档案为归档人）、档案管理员或站长办理；其他人员不得改变档案的内容")
R_SUBJECT = "附件2 六(二)4、六(三)2：服务对象查阅、索取本人资料，由负责社工、档案管理员或站长办理"
R_SUBJECT_FW = "附件2 六(二)4：仅服务档案（服务对象本人资料）可为服务对象导出"
R_REFER = "附件2 八.5、六(三)1：转介须服务对象签署转介同意书，由负责社工或站长办理"
R_REFER_OVERRIDE = "附件2 八.5、八.7：涉及人身安全或法律事项可不经同意转介，须说明事由并提请站长关注"
R_REFER_NO_CONSENT = "附件2 八.5：未存档已签署的转介同意书，不得转介"
R_ANON = "附件2 八.8：匿名化摘录的导出权限与查阅权限相同"
R_SEARCH = "全文检索：所有用户可检索，但结果只显示其有权查看目录的档案"
R_USERS = "附件2 四(一)：站长负责全站档案工作，用户与角色由站长管理"
R_REGISTER = "附件2 四(四)2：外单位查阅申请由档案管理员（或站长、副站长）登记"
R_APPROVE = "附件2 四(三)3、四(四)4：外单位查阅须经站长（副站长）签字批准"
R_SELF_APPROVE = "附件2 四(四)4：审批与登记须分离，不得审批本人登记的申请"
R_PRECIOUS = "附件2 四(三)5：珍贵档案一律不得复制或外借"
R_VIEW = "附件2 四(三)3、四(四)2：外单位查阅件由档案管理员（或站长、副站长）提供"
R_NOT_APPROVED = "附件2 四(三)3：查阅申请未获批准"
R_EXPIRED = "附件2 四(三)3：不在批准的查阅期限内"
R_NOT_IN_REQUEST = "附件2 四(三)3：该档案不在批准的查阅范围内"
R_FW_OUTSIDE = "附件2 八.1、六(二)5：服务档案含服务对象个人资料，对外提供须说明法律或人身安全事由并提请站长关注"
R_COPY = "附件2 四(三)4：经站长批准方可摘抄、复印，并登记编号"
R_COPY_NOT_APPROVED = "附件2 四(三)3、四(三)4：该申请未获准复制，不得抄录"
R_HOLD = "档案法第二十一条：冻结（暂停销毁）由站长或档案管理员设置和解除"
R_PROPOSE = "档案法实施条例第二十四条：到期档案经鉴定后，由档案管理员或站长提出销毁并编制销毁清册"
R_APPROVE_DISPOSAL = "档案法第二十一条：销毁须经站长批准，禁止擅自销毁"
R_EXECUTE = "销毁由档案管理员或站长执行，须有两名以上监销人在场"
R_HELD = "冻结中的档案不得销毁（如涉及未结投诉、个案）"
R_NO_WITNESS = "执行销毁须指定监销人（两名以上）"
R_SELF_WITNESS = "监销人不得由执行人本人担任"
R_RESUME = "中断后续做：已销毁的档案再次执行销毁不会重复操作"
R_AUDIT_READ = "附件2 四(三)1：站长、副站长、督导和主管部门可查看审计日志"
R_AUDIT_DETAILS = "附件2 八：审计详情（事由、外单位等）含个人信息，仅站长和主管部门可查看"
R_AUDIT_VERIFY = "任何人均可校验审计日志是否完整（无需口令）"
R_KEYS = "附件2 八：保密措施由站长负责，密钥轮换由站长执行"
R_BACKUP = "附件2 四(二)5：备份由站长或档案管理员执行"
R_CHECK = "附件2 四(二)5：完整性检查由站长或档案管理员执行"
R_GEN = "附件2 四(二)2：社工站工作人员可生成文书"
R_NO_KEY = ("附件2 八.3：该角色不持有此类档案的密钥，不能解密其内容"
            "（服务档案只由社工、督导、站长、副站长查阅；外单位查阅件由站长或副站长制作）")
R_ARCHIVE_PDF = "DA/T 22—2015 第9章：归档章由档案管理员（或站长、副站长）加盖；归档人可为刚归档的文件当即制作"
R_PRINT = "DA/T 22—2015 第8、9章：归档文件目录、备考表、盒脊由档案管理员（或站长、副站长）编制"
R_PAPER = "附件2 四(二)3：纸质档案的装盒、排架由档案管理员（或站长、副站长）负责"
R_LEND = "附件2 四(四)3：纸质原件借出、归还由档案管理员或站长登记，返还档案要认真检查核对"
R_RESOLVE = "附件2 四(四)3：归还时发现缺损等问题，由站长处理并登记"
R_PAPER_READ = "附件2 四(四)3：借阅登记由站长、副站长、档案管理员和督导查看"
R_TRANSFER = "档发〔2012〕7号 第七条：电子档案移交须经单位负责人（站长，或受托的副站长）批准，说明事由"
R_UNKNOWN_ROLE = "未知角色，拒绝（默认拒绝）"


# --- record visibility ---------------------------------------------------------------------


def _read(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    """Who may read a record's content (before destroyed/secret checks, done by the caller)."""
    role = actor.role
    if r.category == "FW":
        if role == "authority":
            return _yes(R_AUTHORITY)
        if role in ("head", "supervisor"):
            return _yes(R_FW_READ)
        if role == "social_worker" and r.responsible == actor.name:
            return _yes(R_FW_READ)
        return _with_reason(R_FW_OTHER, ctx, flag=True)
    if r.category in ("RS", "CW"):
        if role == "authority":
            return _yes(R_AUTHORITY)
        if role in MANAGERS:
            return _yes(R_RS_CW)
        return _no(R_RS_CW)
    if role == "authority":
        return _yes(R_AUTHORITY)
    return _yes(R_XZ_READ)  # XZ and any other (configured) category: every role


def _read_meta(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    """Catalogue line: visible to whoever may read, or may read by giving a reason."""
    d = _read(actor, r, ctx)
    if d.allowed or d.needs_reason:
        return _yes("目录信息：可查阅（或说明事由后可查阅）该档案者可见其目录条目")
    return _no(d.rule)


def _file(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    if r.category in ("RS", "CW"):
        return _roles(R_FILE_RS_CW, MANAGERS, actor.role)
    return _roles(R_FILE, STAFF, actor.role)


def _correct(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    role = actor.role
    if r.category == "FW":
        ok = role in ("head", "archivist") or (
            role == "social_worker" and r.responsible == actor.name)
    else:
        ok = role in MANAGERS
    return _with_reason(R_CORRECT, ctx, flag=False) if ok else _no(R_CORRECT)


def _complete(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    """A 定稿 or 签字扫描件 added to a filed record is what readers and outside units are then
    shown (access.service.served_component), so it is not anyone's to add: the correction
    scope, without the reason (completing a record is the normal course, not a correction)."""
    role = actor.role
    if r.category == "FW":
        ok = role in ("head", "archivist") or (
            role == "social_worker" and r.responsible == actor.name)
    elif r.category in ("RS", "CW"):
        ok = role in MANAGERS
    else:
        ok = role in MANAGERS or (role in STAFF and r.filed_by == actor.name)
    return _yes(R_COMPLETE) if ok else _no(R_COMPLETE)


def _export_subject(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    if r.category != "FW":
        return _no(R_SUBJECT_FW)
    if actor.role in ("head", "archivist") or (
            actor.role == "social_worker" and r.responsible == actor.name):
        return _yes(R_SUBJECT)
    return _no(R_SUBJECT)


def _refer(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    if r.category != "FW":
        return _no(R_REFER)
    if not (actor.role == "head" or (
            actor.role == "social_worker" and r.responsible == actor.name)):
        return _no(R_REFER)
    if ctx.get("consent_filed") is True:
        return _yes(R_REFER)
    override = ctx.get("override_reason")
    if isinstance(override, str) and override.strip():
        return Decision(True, R_REFER_OVERRIDE, needs_reason=True, flag=True)
    return _no(R_REFER_NO_CONSENT)


def _export_anon(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    d = _read(actor, r, ctx)
    return Decision(d.allowed, R_ANON + "；" + d.rule, d.needs_reason, d.flag)


def _outside(actor: Actor, r: RecordFacts, ctx: dict[str, Any], *, copy: bool) -> Decision:
    """Serving an approved outside request: view copies and (approved) copies."""
    if actor.role not in MANAGERS:
        return _no(R_COPY if copy else R_VIEW)
    if copy and r.precious:
        return _no(R_PRECIOUS)
    if ctx.get("approved") is not True:
        return _no(R_NOT_APPROVED)
    if ctx.get("within_period") is not True:
        return _no(R_EXPIRED)
    if ctx.get("in_request") is not True:
        return _no(R_NOT_IN_REQUEST)
    if copy and ctx.get("copy_approved") is not True:
        return _no(R_COPY_NOT_APPROVED)
    if r.category == "FW":
        return _with_reason(R_FW_OUTSIDE, ctx, flag=True)
    return _yes(R_COPY if copy else R_VIEW)


def _view(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    return _outside(actor, r, ctx, copy=False)


def _copy(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    return _outside(actor, r, ctx, copy=True)


def _hold(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    return _roles(R_HOLD, {"head", "archivist"}, actor.role)


def _propose(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    if actor.role not in ("head", "archivist"):
        return _no(R_PROPOSE)
    return _no(R_HELD) if r.held else _yes(R_PROPOSE)


def _approve_disposal(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    if actor.role != "head":
        return _no(R_APPROVE_DISPOSAL)
    return _no(R_HELD) if r.held else _yes(R_APPROVE_DISPOSAL)


def _execute(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    if actor.role not in ("head", "archivist"):
        return _no(R_EXECUTE)
    if r.held:
        return _no(R_HELD)
    witness = ctx.get("witness")
    if not (isinstance(witness, str) and witness.strip()):
        return _no(R_NO_WITNESS)
    if witness.strip() == actor.name:
        return _no(R_SELF_WITNESS)
    return _yes(R_RESUME if r.destroyed else R_EXECUTE)


def _archive_pdf(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    """The stamped rendition: managers any time; the filer for what they just filed (they held
    that plaintext a moment ago), so `sgz file` can stamp right after the batch."""
    if actor.role in MANAGERS:
        return _yes(R_ARCHIVE_PDF)
    if actor.role in STAFF and ctx.get("just_filed") is True:
        return _yes(R_ARCHIVE_PDF)
    return _no(R_ARCHIVE_PDF)


def _lend(actor: Actor, r: RecordFacts, ctx: dict[str, Any]) -> Decision:
    if actor.role not in ("head", "archivist"):
        return _no(R_LEND)
    return _no(R_PRECIOUS) if r.precious else _yes(R_LEND)


RecordRule = Callable[[Actor, RecordFacts, dict[str, Any]], Decision]

_RECORD_RULES: dict[str, RecordRule] = {
    "record.file": _file,
    "record.read_meta": _read_meta,
    "record.read": _read,
    "record.correct": _correct,
    "record.complete": _complete,
    "record.export_subject": _export_subject,
    "record.refer": _refer,
    "record.export_anon": _export_anon,
    "access.view": _view,
    "access.copy": _copy,
    "hold.manage": _hold,
    "disposal.propose": _propose,
    "disposal.approve": _approve_disposal,
    "disposal.execute": _execute,
    "record.archive_pdf": _archive_pdf,
    "paper.lend": _lend,
}

# Actions that put content in front of the actor: she must hold the record's compartment.
_CONTENT_ACTIONS = frozenset({
    "record.read", "record.export_subject", "record.refer", "record.export_anon",
    "access.view", "access.copy", "record.archive_pdf",
})


def record_compartment(r: RecordFacts) -> str:
    """The key compartment of a record (the same mapping as archive/vault/compartments.py)."""
    if r.secret:
        return "secret"
    return {"FW": "service", "RS": "personnel", "CW": "personnel"}.get(r.category, "general")


# Actions that still make sense on a destroyed record.
_DESTROYED_OK = frozenset({"record.read_meta", "disposal.execute"})
# Actions that touch content (or its catalogue line) and are limited for secret records.
_SECRET_LIMITED = frozenset({
    "record.file", "record.read_meta", "record.read", "record.correct", "record.complete",
    "record.export_subject", "record.refer", "record.export_anon",
    "access.view", "access.copy", "record.archive_pdf", "paper.lend",
})


def _approve_request(actor: Actor, action: str, record: RecordFacts | None,
                     ctx: dict[str, Any]) -> Decision:
    if actor.role not in ("head", "deputy"):
        return _no(R_APPROVE)
    registered_by = ctx.get("registered_by")
    if not (isinstance(registered_by, str) and registered_by.strip()):
        return _no(R_SELF_APPROVE + "（未提供登记人）")
    if registered_by.strip() == actor.name:
        return _no(R_SELF_APPROVE)
    if (action == "access.approve" and record is not None and record.precious
            and ctx.get("allow_copy") is True):
        return _no(R_PRECIOUS)
    return _yes(R_APPROVE)


_GLOBAL_RULES: dict[str, tuple[frozenset[str], str]] = {
    "search": (frozenset(ROLES), R_SEARCH),
    "user.manage": (frozenset({"head"}), R_USERS),
    "access.register": (MANAGERS, R_REGISTER),
    "audit.read": (frozenset({"head", "deputy", "supervisor", "authority"}), R_AUDIT_READ),
    "audit.details": (frozenset({"head", "authority"}), R_AUDIT_DETAILS),
    "audit.verify": (frozenset(ROLES), R_AUDIT_VERIFY),
    "keys.rotate": (frozenset({"head"}), R_KEYS),
    "backup": (frozenset({"head", "archivist"}), R_BACKUP),
    "check": (frozenset({"head", "archivist"}), R_CHECK),
    "gen": (STAFF, R_GEN),
    "print": (MANAGERS, R_PRINT),
    "paper.place": (MANAGERS, R_PAPER),
    "paper.return": (frozenset({"head", "archivist"}), R_LEND),
    "paper.resolve": (frozenset({"head"}), R_RESOLVE),
    "paper.read": (frozenset({"head", "deputy", "archivist", "supervisor"}), R_PAPER_READ),
}


def decide(actor: Actor, action: str, record: RecordFacts | None = None, **ctx: Any) -> Decision:
    """Decide whether `actor` may do `action` (to `record`), naming the rule either way.

    Context flags (all optional; a missing flag counts as not satisfied):
    reason (str), subject (name of a personnel file's person), consent_filed (bool),
    override_reason (str), registered_by (str), allow_copy (bool), approved (bool),
    within_period (bool), in_request (bool), copy_approved (bool), witness (str),
    just_filed (bool).
    """
    if action not in ACTIONS:
        raise UsageError(f"未知操作：{action}", found=action, expected=sorted(ACTIONS))
    if actor.role not in ROLES:
        return _no(R_UNKNOWN_ROLE)
    if action in _RECORD_RULES:
        if record is None:
            raise UsageError(f"操作“{ACTIONS[action]}”须指明档案", ref=action)
        if record.destroyed and action not in _DESTROYED_OK:
            return _no(R_DESTROYED)
        if record.secret and action in _SECRET_LIMITED and actor.role not in MANAGERS:
            return _no(R_SECRET)
        if action in _CONTENT_ACTIONS and \
                record_compartment(record) not in ROLE_COMPARTMENTS.get(actor.role, ()):
            return _no(R_NO_KEY)  # vault format 2: her keys cannot open it, whatever the rule
        return _RECORD_RULES[action](actor, record, ctx)
    if action in ("access.approve", "access.deny"):
        return _approve_request(actor, action, record, ctx)
    if action == "transfer.export":
        if actor.role not in ("head", "deputy"):
            return _no(R_TRANSFER)
        return _with_reason(R_TRANSFER, ctx, flag=True)
    roles, rule = _GLOBAL_RULES[action]
    return _roles(rule, roles, actor.role)


def require(actor: Actor, action: str, record: RecordFacts | None = None,
            **ctx: Any) -> Decision:
    """Like `decide`, but raise AccessDenied (message = the rule) when not allowed."""
    d = decide(actor, action, record, **ctx)
    if not d.allowed:
        raise AccessDenied(f"{ROLES.get(actor.role, actor.role)}不得{ACTIONS[action]}：{d.rule}",
                           ref=action, details={"rule": d.rule, "needs_reason": d.needs_reason})
    return d
