"""Readable audit history: Chinese names for action codes and the filters of `sgz audit log`."""

from __future__ import annotations

import re

# action code -> Chinese name shown to people; unknown codes are shown as they are.
ACTION_NAMES: dict[str, str] = {
    "genesis": "创建日志",
    "vault.init": "建立档案库",
    "auth.failed": "登录失败",
    "auth.recovery": "恢复码登录",
    "denied": "拒绝访问",
    "record.file": "归档",
    "record.component": "添加组件",
    "record.duplicate": "重复归档（未存储）",
    "record.show": "查看著录",
    "record.get": "导出",
    "record.correct": "更正",
    "record.complete": "补充定稿或签字扫描件",
    "catalog.list": "查看目录",
    "decrypt.failed": "解密失败",
    "user.add": "添加用户",
    "user.remove": "移除用户",
    "user.role": "变更用户角色",
    "user.key": "更换用户签名密钥",
    "station.key": "更换站点签名密钥",
    "upgrade": "升级档案库格式",
    "user.passwd": "修改口令",
    "keys.rotate.begin": "开始轮换密钥",
    "keys.rotate": "轮换密钥",
    "keys.rotate.resumed": "续做密钥轮换",
    "keys.rewrap.begin": "开始重新封装档案密钥",
    "keys.rewrap": "重新封装档案密钥（旧密钥销毁）",
    "keys.revoke": "收回离开人员的密钥（轮换其所在分区）",
    "keys.shred": "销毁后轮换并重新封装密钥",
    "keys.shred.pending": "销毁后的密钥轮换留待站长完成",
    "keys.shred.resumed": "完成销毁后的密钥轮换",
    "index.queue.read": "将待索引文字写入全文索引",
    "log.repair": "修复日志末行",
    "audit.read": "查看审计日志",
    "audit.checkpoint": "签发检查点",
    "check.begin": "开始完整性检查",
    "check": "完整性检查",
    "check.read": "检查读取",
    "check.repair": "检查修复",
    "backup.begin": "开始备份",
    "backup": "备份",
    "restore": "恢复",
    "search": "全文检索",
    "index.rebuild": "重建索引",
    "gen": "生成文书",
    "access.register": "登记查阅申请",
    "access.approve": "批准查阅",
    "access.deny": "驳回查阅",
    "access.view": "制作查阅件",
    "access.copy": "制作复制件",
    "record.export_subject": "为服务对象导出",
    "record.refer": "转介导出",
    "record.export_anon": "匿名化导出",
    "hold.add": "冻结",
    "hold.remove": "解除冻结",
    "disposal.propose": "提出销毁",
    "disposal.approve": "批准销毁",
    "disposal.execute": "执行销毁",
    "record.archive_pdf": "制作归档章版本",
    "record.archive_pdf.failed": "归档章版本制作失败",
    "backup.open_export": "备份开放导出（解包全部对象密钥）",
    "print": "打印目录/备考表/盒脊",
    "paper.place": "登记盒号/存放位置",
    "paper.lend": "借出纸质原件",
    "paper.return": "归还纸质原件",
    "paper.resolve": "处理归还问题",
    "paper.read": "查看借阅登记",
    "transfer.export.begin": "开始移交导出",
    "transfer.export.item": "移交导出（解密）",
    "transfer.export": "移交导出",
    "disposal.execute.begin": "开始执行销毁",
    "disposal.destroy.begin": "开始销毁档案",
    "disposal.propose.failed": "提出销毁失败",
    "disposal.list": "查看销毁批次",
    "disposal.show": "查看销毁批次详情",
    "record.destroy": "销毁档案",
    "record.read": "读取档案内容",
    "record.read_meta": "读取著录信息",
    "record.refer.begin": "开始转介导出",
    "record.export_anon.done": "完成匿名化导出",
    "subject.export": "为服务对象导出",
    "subject.export.begin": "开始为服务对象导出",
    "retention.due": "查看到期档案",
    "retention.extend": "延长保管期限",
    "index.read": "读取档案建索引",
    "index.rebuild.begin": "开始重建索引",
    "access.request": "登记查阅申请",
    "access.requests": "查看查阅申请",
    "access.list": "查看查阅申请",
    "access.show": "查看查阅申请详情",
    "access.register_doc": "生成查阅登记表",
    "access.view.issued": "发出查阅件",
    "access.view.failed": "制作查阅件失败",
    "access.copy.issued": "发出复制件",
    "access.copy.failed": "制作复制件失败",
    "access.flags": "查看提请关注事项",
    "access.flag.ack": "站长已阅关注事项",
    "audit.details": "查看审计详情",
    "audit.verify": "校验审计日志",
    "hold.list": "查看冻结清单",
    "hold.manage": "管理冻结",
    "user.manage": "管理用户",
}

# detail key -> Chinese label shown by `sgz audit log` (unknown keys are shown as they are)
DETAIL_NAMES: dict[str, str] = {
    "action": "操作", "actor": "用户", "allow_copy": "准予复制", "applicant": "查阅人",
    "appraisal_note": "鉴定意见", "as_of": "截至", "batch": "销毁批次", "bytes": "字节数",
    "category": "类别", "codes": "代码", "components": "组件", "consent": "同意书",
    "copies": "份数", "copy": "复制", "copy_no": "编号", "count": "数量", "created": "新建",
    "date": "日期", "dest": "目标", "details": "含加密详情", "documents": "文档数", "done": "完成",
    "epoch": "密钥代数", "expires_on": "到期日", "export": "导出", "file": "文件",
    "filename": "文件名", "files": "文件", "filter": "筛选", "flag": "提请关注",
    "flagged": "提请关注", "fresh_key": "新索引密钥", "home": "站点目录", "household": "户号",
    "id": "编号", "item": "档案", "items": "档案", "key": "密钥", "kind": "类型",
    "letter": "介绍信", "masked": "遮蔽处数", "mime": "格式", "names": "姓名", "new": "新值",
    "note": "备注", "objects": "对象数", "old": "原值", "out": "输出位置",
    "override_reason": "紧急事由", "problems": "问题", "purpose": "查阅目的", "query": "检索词",
    "raw": "原始", "read": "读取", "read_bytes": "读取字节", "read_data": "读取内容",
    "reason": "事由", "record": "档案", "ref": "档号", "refs": "档号", "repair": "修复",
    "repaired": "已修复", "request": "申请", "resumed": "续做", "retention": "保管期限",
    "role": "角色", "root": "根哈希", "rule": "依据", "seq": "组件序号", "since": "起始",
    "size": "大小", "slots": "密钥槽", "source": "来源", "station": "站点", "status": "状态",
    "strict": "严格", "subset": "范围", "title": "题名", "to": "转至", "unit": "查阅单位",
    "until": "有效至", "user": "用户", "vault": "档案库", "view": "查阅件",
    "warnings": "提示", "what": "对象", "witnesses": "监销人", "work_factor": "口令强度",
    "year": "年度",
    "box_no": "盒号", "location": "存放位置", "loan": "借阅编号", "borrower": "借阅人",
    "due": "应还时间", "pages": "页数", "intact": "完好", "discrepancy": "有问题",
    "resolution": "处理结果", "source_seq": "源组件序号", "error": "原因", "records": "件数",
    "absent": "未移交件数", "ok": "通过", "bag": "BagIt 封装",
}

SLOT_NAMES = {"user": "用户口令", "recovery": "恢复码"}


def action_name(code: str) -> str:
    return ACTION_NAMES.get(code, code)


def action_code(text: str) -> str:
    """Accept an action code or its Chinese name."""
    t = text.strip()
    for code, name in ACTION_NAMES.items():
        if t == name:
            return code
    return t


def _value_text(value: object) -> str:
    from archive.clock import station_text

    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | tuple | set):
        return "、".join(_value_text(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{detail_name(str(k))}：{_value_text(v)}" for k, v in value.items())
    text = str(value)
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)", text):
        return station_text(text)
    return text


def detail_name(key: str) -> str:
    return DETAIL_NAMES.get(key, key)


def detail_text(detail: dict[str, object]) -> str:
    """An audit entry's detail for people: Chinese key names, lists joined, times in station time."""
    parts = []
    for key, value in detail.items():
        if value in (None, "", [], {}):
            continue
        if key == "action" and isinstance(value, str):
            value = action_name(value)
        elif key == "slots" and isinstance(value, list):
            value = [SLOT_NAMES.get(str(v), v) for v in value]
        parts.append(f"{detail_name(key)}：{_value_text(value)}")
    return "；".join(parts)
