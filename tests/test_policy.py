"""The access policy: the whole table against a hand-written matrix, context rules, the doc."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archive.errors import AccessDenied, UsageError
from archive.policy.rules import (
    ACTIONS,
    RECORD_ACTIONS,
    ROLES,
    Actor,
    RecordFacts,
    decide,
    require,
)
from archive.policy.table import SAMPLE_RECORDS, TABLE_ACTORS, TABLE_CTX, render_markdown

REPO = Path(__file__).resolve().parents[1]
ROLE_ORDER = ["head", "deputy", "archivist", "social_worker", "supervisor", "authority"]

# Written by hand from DESIGN §7 and the guideline, not from the code.
# One letter per role in ROLE_ORDER: Y allowed, N denied,
# R allowed only with a reason (and then flagged for the head), C allowed only with a reason
# (not flagged: corrections).
GLOBAL = {
    "search": "YYYYYY",
    "user.manage": "YNNNNN",
    "access.register": "YYYNNN",
    "access.approve": "YYNNNN",
    "access.deny": "YYNNNN",
    "audit.read": "YYNNYY",
    "audit.details": "YNNNNY",
    "audit.verify": "YYYYYY",
    "keys.rotate": "YNNNNN",
    "backup": "YNYNNN",
    "check": "YNYNNN",
    "gen": "YYYYNN",
    "print": "YYYNNN",
    "paper.place": "YYYNNN",
    "paper.return": "YNYNNN",
    "paper.resolve": "YNNNNN",
    "paper.read": "YYYNYN",
    "transfer.export": "RRNNNN",
}

KINDS = ["XZ", "FW_own", "FW_other", "RS", "CW", "XZ_secret", "XZ_precious", "FW_held",
         "FW_destroyed"]

# Vault format 2: who holds the keys is decided by archive/policy/roles.py ROLE_COMPARTMENTS;
# the archivist and the authority hold no service-record keys (附件2 八 3), so they read none.
READ_ROWS = ["YYYYYY", "YRNYYN", "YRNRYN", "YYYNNY", "YYYNNY", "YYYNNN", "YYYYYY", "YRNYYN",
             "NNNNNN"]

PER_RECORD = {
    #                     XZ        FW_own    FW_other  RS        CW        secret    precious  held      destroyed
    "record.file":       ["YYYYNN", "YYYYNN", "YYYYNN", "YYYNNN", "YYYNNN", "YYYNNN", "YYYYNN", "YYYYNN", "NNNNNN"],
    "record.read_meta":  ["YYYYYY", "YYYYYY", "YYYYYY", "YYYNNY", "YYYNNY", "YYYNNN", "YYYYYY", "YYYYYY", "YYYYYY"],
    "record.read":       READ_ROWS,
    "record.correct":    ["CCCNNN", "CNCCNN", "CNCNNN", "CCCNNN", "CCCNNN", "CCCNNN", "CCCNNN", "CNCCNN", "NNNNNN"],
    # a 定稿 or 签字扫描件 added to a filed record: the correction scope, no reason
    "record.complete":   ["YYYNNN", "YNYYNN", "YNYNNN", "YYYNNN", "YYYNNN", "YYYNNN", "YYYNNN", "YNYYNN", "NNNNNN"],
    "record.export_subject": ["NNNNNN", "YNNYNN", "YNNNNN", "NNNNNN", "NNNNNN", "NNNNNN", "NNNNNN", "YNNYNN", "NNNNNN"],
    "record.refer":      ["NNNNNN", "YNNYNN", "YNNNNN", "NNNNNN", "NNNNNN", "NNNNNN", "NNNNNN", "YNNYNN", "NNNNNN"],
    "record.export_anon": READ_ROWS,
    "access.view":       ["YYYNNN", "RRNNNN", "RRNNNN", "YYYNNN", "YYYNNN", "YYYNNN", "YYYNNN", "RRNNNN", "NNNNNN"],
    "access.copy":       ["YYYNNN", "RRNNNN", "RRNNNN", "YYYNNN", "YYYNNN", "YYYNNN", "NNNNNN", "RRNNNN", "NNNNNN"],
    "hold.manage":       ["YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "NNNNNN"],
    "disposal.propose":  ["YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "NNNNNN", "NNNNNN"],
    "disposal.approve":  ["YNNNNN", "YNNNNN", "YNNNNN", "YNNNNN", "YNNNNN", "YNNNNN", "YNNNNN", "NNNNNN", "NNNNNN"],
    "disposal.execute":  ["YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "NNNNNN", "YNYNNN"],
    "record.archive_pdf": ["YYYNNN", "YYNNNN", "YYNNNN", "YYYNNN", "YYYNNN", "YYYNNN", "YYYNNN", "YYNNNN", "NNNNNN"],
    "paper.lend":        ["YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "YNYNNN", "NNNNNN", "YNYNNN", "NNNNNN"],
}  # fmt: skip


def test_matrix_covers_every_action_role_and_kind() -> None:
    assert list(ROLES) == ROLE_ORDER
    assert set(GLOBAL) | set(PER_RECORD) == set(ACTIONS)
    assert set(PER_RECORD) == set(RECORD_ACTIONS)
    assert list(SAMPLE_RECORDS) == KINDS


def _check(expected: str, action: str, role: str, record: RecordFacts | None) -> None:
    actor = TABLE_ACTORS[role]
    plain = decide(actor, action, record, **TABLE_CTX)
    with_reason = decide(actor, action, record, reason="工作需要：个案回顾", **TABLE_CTX)
    where = f"{action} {role} {record}"
    assert plain.rule, where
    if expected == "Y":
        assert plain.allowed and not plain.needs_reason, where
    elif expected == "N":
        assert not plain.allowed and not with_reason.allowed, where
    else:
        assert not plain.allowed and plain.needs_reason, where
        assert with_reason.allowed and with_reason.needs_reason, where
        assert with_reason.flag is (expected == "R"), where


@pytest.mark.parametrize("action", sorted(GLOBAL))
def test_global_actions_whole_table(action: str) -> None:
    for role, expected in zip(ROLE_ORDER, GLOBAL[action], strict=True):
        _check(expected, action, role, None)


@pytest.mark.parametrize("action", sorted(PER_RECORD))
def test_record_actions_whole_table(action: str) -> None:
    for kind, row in zip(KINDS, PER_RECORD[action], strict=True):
        facts = SAMPLE_RECORDS[kind][1]
        for role, expected in zip(ROLE_ORDER, row, strict=True):
            _check(expected, action, role, facts)


def test_doc_matches_code() -> None:
    doc = (REPO / "docs" / "access-policy.md").read_text(encoding="utf-8")
    assert doc == render_markdown(), "请运行 python -m archive.policy.table --markdown > docs/access-policy.md"


def test_markdown_entry_point() -> None:
    out = subprocess.run([sys.executable, "-m", "archive.policy.table", "--markdown"],
                         capture_output=True, check=True, cwd=REPO)
    assert out.stdout.decode("utf-8") == render_markdown()
    assert out.stderr == b""


# --- context rules -------------------------------------------------------------------------

HEAD = Actor("站长甲", "head")
DEPUTY = Actor("副站长甲", "deputy")
ARCHIVIST = Actor("档案员甲", "archivist")
SW = Actor("社工甲", "social_worker")
XZ = RecordFacts("XZ")
FW = RecordFacts("FW", responsible="社工甲")
OUTSIDE_OK = {"approved": True, "within_period": True, "in_request": True}


def test_self_approval_refused_for_approve_and_deny() -> None:
    for action in ("access.approve", "access.deny"):
        d = decide(DEPUTY, action, registered_by="副站长甲")
        assert not d.allowed and "不得审批本人登记" in d.rule
        assert not decide(DEPUTY, action).allowed  # registrar unknown: fail closed
        assert decide(DEPUTY, action, registered_by="档案员甲").allowed


def test_approving_copy_of_precious_item_refused() -> None:
    precious = RecordFacts("XZ", precious=True)
    d = decide(HEAD, "access.approve", precious, registered_by="档案员甲", allow_copy=True)
    assert not d.allowed and "珍贵" in d.rule
    assert decide(HEAD, "access.approve", precious, registered_by="档案员甲").allowed


@pytest.mark.parametrize("missing,words", [
    ("approved", "未获批准"), ("within_period", "期限"), ("in_request", "范围"),
])
def test_outside_view_needs_approval_period_and_item(missing: str, words: str) -> None:
    ctx = dict(OUTSIDE_OK, **{missing: False})
    d = decide(ARCHIVIST, "access.view", XZ, **ctx)
    assert not d.allowed and words in d.rule
    assert decide(ARCHIVIST, "access.view", XZ, **OUTSIDE_OK).allowed


def test_copy_needs_copy_approval_and_never_precious() -> None:
    d = decide(ARCHIVIST, "access.copy", XZ, **OUTSIDE_OK)
    assert not d.allowed and "未获准复制" in d.rule
    assert decide(ARCHIVIST, "access.copy", XZ, copy_approved=True, **OUTSIDE_OK).allowed
    d = decide(HEAD, "access.copy", RecordFacts("XZ", precious=True), copy_approved=True,
               **OUTSIDE_OK)
    assert not d.allowed and d.rule.startswith("附件2 四(三)5")


def test_referral_consent_and_life_safety_override() -> None:
    d = decide(SW, "record.refer", FW)
    assert not d.allowed and "转介同意书" in d.rule
    ok = decide(SW, "record.refer", FW, consent_filed=True)
    assert ok.allowed and not ok.flag
    d = decide(SW, "record.refer", FW, override_reason="服务对象有自杀风险，紧急转介医院")
    assert d.allowed and d.flag and d.needs_reason and "人身安全" in d.rule
    assert not decide(SW, "record.refer", FW, override_reason="  ").allowed


def test_disposal_execute_witness_rules() -> None:
    assert "监销人" in decide(ARCHIVIST, "disposal.execute", XZ).rule
    assert not decide(ARCHIVIST, "disposal.execute", XZ).allowed
    d = decide(ARCHIVIST, "disposal.execute", XZ, witness="档案员甲")
    assert not d.allowed and "不得由执行人本人" in d.rule
    assert decide(ARCHIVIST, "disposal.execute", XZ, witness="站长甲").allowed


def test_held_record_cannot_be_destroyed_rule_named() -> None:
    with pytest.raises(AccessDenied) as e:
        require(HEAD, "disposal.execute", RecordFacts("FW", held=True), witness="档案员甲")
    assert "冻结中的档案不得销毁" in str(e.value)
    assert e.value.exit_code == 5


def test_no_content_without_the_compartment_key() -> None:
    """A social worker holds no personnel keys (her own file is produced for her by a
    manager); the archivist and the authority hold no service keys (附件2 八 3)."""
    rs = RecordFacts("RS")
    d = decide(SW, "record.read", rs, subject="社工甲", reason="本人档案")
    assert not d.allowed and "不持有此类档案的密钥" in d.rule
    for role in ("archivist", "authority"):
        d = decide(Actor("x", role), "record.read", RecordFacts("FW"), reason="工作需要")
        assert not d.allowed and "不持有此类档案的密钥" in d.rule
        assert decide(Actor("x", role), "record.read_meta", RecordFacts("FW")).allowed


def test_service_record_reason_is_flagged() -> None:
    other = RecordFacts("FW", responsible="社工乙")
    with pytest.raises(AccessDenied) as e:
        require(SW, "record.read", other)
    assert "须说明事由" in str(e.value) and e.value.details["needs_reason"] is True
    d = require(SW, "record.read", other, reason="同事休假，代为跟进个案")
    assert d.allowed and d.flag and d.needs_reason


def test_secret_record_limited_even_for_authority_and_responsible() -> None:
    secret_fw = RecordFacts("FW", responsible="社工甲", secret=True)
    for actor in (SW, Actor("民政局甲", "authority"), Actor("督导甲", "supervisor")):
        d = decide(actor, "record.read", secret_fw, reason="x")
        assert not d.allowed and "密级" in d.rule
    assert decide(HEAD, "record.read", secret_fw).allowed


def test_unknown_role_fails_closed_and_unknown_action_is_usage_error() -> None:
    for action in ACTIONS:
        record = XZ if action in RECORD_ACTIONS else None
        assert not decide(Actor("某人", "intern"), action, record, **TABLE_CTX).allowed
    with pytest.raises(UsageError):
        decide(HEAD, "record.burn", XZ)
    with pytest.raises(UsageError):
        decide(HEAD, "record.read")  # record missing


def test_refusal_message_names_role_action_and_rule() -> None:
    with pytest.raises(AccessDenied) as e:
        require(SW, "disposal.approve", XZ)
    assert str(e.value) == "社工不得批准销毁：档案法第二十一条：销毁须经站长批准，禁止擅自销毁"


def test_an_admin_record_is_completed_by_whoever_filed_it() -> None:
    """record.complete: the filer of an administrative record may add its 定稿 or signed scan;
    another social worker may not, nor the filer of a secret or personnel record."""
    mine = RecordFacts("XZ", filed_by="社工甲")
    assert decide(SW, "record.complete", mine).allowed
    assert not decide(Actor("社工乙", "social_worker"), "record.complete", mine).allowed
    assert not decide(SW, "record.complete", RecordFacts("XZ", filed_by="社工甲", secret=True)).allowed
    assert not decide(SW, "record.complete", RecordFacts("RS", filed_by="社工甲")).allowed
