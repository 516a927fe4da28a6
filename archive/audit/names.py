"""Readable audit history: Chinese names for action codes and the filters of `sgz audit log`."""

from __future__ import annotations

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
}


def action_name(code: str) -> str:
    return ACTION_NAMES.get(code, code)


def action_code(text: str) -> str:
    """Accept an action code or its Chinese name."""
    t = text.strip()
    for code, name in ACTION_NAMES.items():
        if t == name:
            return code
    return t
