"""`sgz audit log | verify | checkpoint` through the real CLI, on a log written by real commands.

Tamper cases edit that log (a byte, a line deleted / inserted / reordered, a torn tail, a log
shorter than or forked from a checkpoint, bad and unknown signatures, two checkpoints of one
size) and expect exit code 8 with the exact message naming the first bad entry.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from conftest import run_sgz, sgz_env

REF1 = "Z001-WS·2026-D30-FW-0001"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A home whose log was written by real commands, plus an exported checkpoint file."""
    base = tmp_path_factory.mktemp("audit")
    home = base / "station"
    env = sgz_env(home)
    assert run_sgz(["init", "--user", "zhangsan", "--role", "head"], env).returncode == 0
    for name, role in (("wangwu", "supervisor"), ("zhaoliu", "social_worker")):
        assert run_sgz(["user", "add", name, "--role", role], env).returncode == 0
    doc = base / "走访.txt"
    doc.write_text("服务对象王某某入户走访记录", encoding="utf-8")
    assert run_sgz(["file", str(doc), "--category", "FW", "--title", "入户走访记录"], env).returncode == 0
    r = run_sgz(["get", REF1, "-o", str(base / "out.txt"), "--reason", "督导检查抽查"], env)
    assert r.returncode == 0, r.stderr
    cp = base / "county.note"
    r = run_sgz(["audit", "checkpoint", "-o", str(cp)], env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(cp)
    assert run_sgz(["show", REF1], env).returncode == 0
    return home, cp


def _copy(made: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    home, cp = made
    h = tmp_path / "station"
    shutil.copytree(home, h)
    return h, cp, sgz_env(h)


def _nokey_env(home: Path) -> dict[str, str]:
    env = sgz_env(home)
    for k in ("SGZ_USER", "SGZ_PASSPHRASE", "SGZ_NEW_PASSPHRASE"):
        env.pop(k)
    return env


def _log(home: Path) -> Path:
    return home / "vault" / "audit" / "log.jsonl"


def _lines(home: Path) -> list[bytes]:
    return _log(home).read_bytes().split(b"\n")[:-1]


def _write(home: Path, lines: list[bytes], tail: bytes = b"\n") -> None:
    _log(home).write_bytes(b"\n".join(lines) + tail)


def _verify(home: Path, *args: str) -> tuple[int, str, str]:
    """`sgz --home HOME audit verify ...` in-process (fast); no user, passphrase or key."""
    import contextlib
    import io

    from archive.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--home", str(home), "audit", "verify", *args]) or 0
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_verify_subprocess_without_any_key(made, tmp_path: Path) -> None:
    home, _, _ = _copy(made, tmp_path)
    env = _nokey_env(home)
    r = run_sgz(["audit", "verify"], env)
    assert r.returncode == 0 and r.stdout.startswith("未能证明完整：共 "), r.stderr  # `show` came after the checkpoint
    _write(home, _lines(home)[:-2] + [_lines(home)[-1]])
    r = run_sgz(["audit", "verify"], env)
    assert r.returncode == 8 and r.stderr.startswith("错误：第 "), r.stderr


# ---------------------------------------------------------------------------- log


def test_log_shows_history_in_chinese_with_details_for_head(made, tmp_path: Path) -> None:
    home, _, env = _copy(made, tmp_path)
    r = run_sgz(["audit", "log"], env)
    assert r.returncode == 0, r.stderr
    assert "归档" in r.stdout and "导出" in r.stdout and REF1 in r.stdout
    assert "督导检查抽查" in r.stdout  # head may read the sealed reason
    r = run_sgz(["audit", "log", "--action", "导出", "--json"], env)
    rows = json.loads(r.stdout)
    assert [x["action"] for x in rows] == ["record.get"]
    assert rows[0]["detail"]["reason"] == "督导检查抽查" and rows[0]["action_name"] == "导出"
    # reading the log was itself audited, with the filter
    r = run_sgz(["audit", "log", "--action", "audit.read", "--json"], env)
    reads = json.loads(r.stdout)
    assert len(reads) == 3 and reads[1]["detail"]["filter"] == {"action": "record.get"}


def test_log_details_sealed_for_supervisor_denied_for_social_worker(made, tmp_path: Path) -> None:
    home, _, env = _copy(made, tmp_path)
    sup = sgz_env(home, user="wangwu")
    r = run_sgz(["audit", "log", "--ref", REF1], sup)
    assert r.returncode == 0, r.stderr
    assert "（详情已加密）" in r.stdout and "督导检查抽查" not in r.stdout
    r = run_sgz(["audit", "log", "--since", "2020-01-01", "--actor", "zhangsan", "--json"], sup)
    rows = json.loads(r.stdout)
    assert rows and all(x["actor"] == "zhangsan" and x["detail"] is None for x in rows)
    sw = sgz_env(home, user="zhaoliu")
    r = run_sgz(["audit", "log"], sw)
    assert r.returncode == 5 and "审计日志" in r.stderr
    r = run_sgz(["audit", "log", "--action", "denied", "--json"], env)
    assert json.loads(r.stdout)[-1]["detail"]["action"] == "audit.read"


def test_log_bad_since_is_validation_error(made, tmp_path: Path) -> None:
    home, _, env = _copy(made, tmp_path)
    r = run_sgz(["audit", "log", "--since", "昨天"], env)
    assert r.returncode == 6 and "无法识别" in r.stderr


# ---------------------------------------------------------------------------- verify


def test_verify_needs_no_key_and_counts_uncovered(made, tmp_path: Path) -> None:
    home, cp, env = _copy(made, tmp_path)
    code, out, err = _verify(home)
    n = len(_lines(home))
    size = int(cp.read_text(encoding="utf-8").split("\n")[1])
    assert code == 0, err
    assert out.strip() == (f"未能证明完整：共 {n} 条记录，签名与哈希链无误，但没有检查点覆盖其中最后 {n - size} 条"
                           "（这部分被删改或截短时校验无法发现，只有见过它们的用户下次登录时会发现）；"
                           f"已核对 {_checkpoint_count(home)} 个检查点，{n - size} 条尚未被导出的检查点覆盖")
    code, out, _ = _verify(home, "--checkpoint", str(cp), "--json")
    rep = json.loads(out)
    assert code == 0 and rep["ok"] and rep["entries"] == n and rep["uncovered"] == n - size
    assert rep["complete"] is False and rep["unproven"] == n - size
    # exporting a new checkpoint covers everything written before it
    r = run_sgz(["audit", "checkpoint", "--json"], env)
    assert r.returncode == 0 and json.loads(r.stdout)["id"] == n + 1
    code, out, _ = _verify(home)
    assert out.startswith("完整：") and "其中 0 条尚未被导出的检查点覆盖" in out


def _checkpoint_count(home: Path) -> int:
    return len(list((home / "vault" / "audit" / "checkpoints").glob("*.note")))


def test_checkpoint_to_stdout_is_a_signed_note(made, tmp_path: Path) -> None:
    home, _, env = _copy(made, tmp_path)
    r = run_sgz(["audit", "checkpoint"], env)
    assert r.returncode == 0
    body, sig = r.stdout.split("\n\n")
    origin, size, root = body.split("\n")
    assert origin.startswith("sgz/") and int(size) == len(_lines(home))
    assert len(base64.b64decode(root)) == 32 and sig.startswith("— " + origin + " ")


@pytest.mark.parametrize("case, expected", [
    ("edit-byte", "第 6 行不是规范格式（字段、顺序、空白或字符不对）：该行被改动"),
    ("edit-value", "第 6 行的操作者 zhangsam 在日志中没有密钥（从未添加或已被移除）：该行是伪造的"),
    ("delete", "第 6 行的序号为 6，应为 5：序号不连续：有条目被删除、调换顺序或序号被改动"),
    ("insert", "第 7 行的序号为 5，应为 6：条目被重复、插入或调换顺序"),
    ("reorder", "第 6 行的序号为 6，应为 5：序号不连续：有条目被删除、调换顺序或序号被改动"),
    ("torn", "（最后一行）不完整：写入中断或文件被截断"),
])
def test_tamper_is_caught_through_the_cli(made, tmp_path: Path, case: str, expected: str) -> None:
    home, _, _ = _copy(made, tmp_path)
    lines = _lines(home)
    if case == "edit-byte":
        lines[5] = lines[5].replace(b'"actor":"', b'"actor":"x', 1)[:-1] + b"!"
    elif case == "edit-value":
        lines[5] = lines[5].replace(b'"actor":"zhangsan"', b'"actor":"zhangsam"')
    elif case == "delete":
        del lines[5]
    elif case == "insert":
        lines.insert(6, lines[5])
    elif case == "reorder":
        lines[5], lines[6] = lines[6], lines[5]
    if case == "torn":
        _write(home, lines[:-1] + [lines[-1][:-7]], tail=b"")
        expected = f"第 {len(lines)} 行{expected}"
    else:
        _write(home, lines)
    code, out, err = _verify(home)
    assert code == 8 and out == ""
    assert f"错误：{expected}" in err.splitlines()
    assert ("log.repair" in err) == (case == "torn")


def test_truncated_below_checkpoint(made, tmp_path: Path) -> None:
    home, cp, _ = _copy(made, tmp_path)
    size = int(cp.read_text(encoding="utf-8").split("\n")[1])
    lines = _lines(home)
    _write(home, lines[: size - 2])
    shutil.rmtree(home / "vault" / "audit" / "checkpoints")  # the attacker removes local ones too
    code, _, err = _verify(home)
    assert code == 0  # alone, a clean prefix looks intact ...
    code, _, err = _verify(home, "--checkpoint", str(cp))  # ... but not against the county's copy
    assert code == 8
    assert err.splitlines()[0] == (f"错误：日志只有 {size - 2} 条，短于已签名的检查点（{size} 条）：末尾条目被删除")


def test_rewrite_and_rechain_breaks_signatures(made, tmp_path: Path) -> None:
    """Rewrite an early entry and re-chain everything after it (format 1 needed a checkpoint to
    catch this): every line carries its actor's signature over its bytes, so verify alone fails."""
    from archive.audit.merkle import leaf_hash

    home, _, _ = _copy(made, tmp_path)
    shutil.rmtree(home / "vault" / "audit" / "checkpoints")
    lines = _lines(home)
    o5 = json.loads(lines[5])
    lines[5] = lines[5].replace(f'"ts":"{o5["ts"]}"'.encode(), b'"ts":"2025-01-01T00:00:00Z"')
    for i in range(6, len(lines)):
        o = json.loads(lines[i])
        lines[i] = lines[i].replace(o["prev"].encode(), leaf_hash(lines[i - 1]).hex().encode())
    _write(home, lines)
    code, out, _ = _verify(home, "--json")
    assert code == 8 and json.loads(out)["reason"] == "bad-signature"


def test_bad_signature_and_unknown_key(made, tmp_path: Path) -> None:
    home, cp, _ = _copy(made, tmp_path)
    text = cp.read_text(encoding="utf-8")
    body, sig = text.split("\n\n")
    name, b64 = sig.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[10] ^= 1
    bad = tmp_path / "bad.note"
    bad.write_text(f"{body}\n\n{name} {base64.b64encode(bytes(raw)).decode()}\n", encoding="utf-8")
    code, _, err = _verify(home, "--checkpoint", str(bad))
    assert code == 8 and err.startswith("错误：第 1 个外部检查点无效：")
    # a checkpoint signed by another vault's key
    other = tmp_path / "other"
    env2 = sgz_env(other)
    assert run_sgz(["init", "--user", "zhangsan", "--role", "head"], env2).returncode == 0
    r = run_sgz(["audit", "checkpoint"], env2)
    foreign = tmp_path / "foreign.note"
    foreign.write_text(r.stdout, encoding="utf-8")
    code, _, err = _verify(home, "--checkpoint", str(foreign))
    assert code == 8
    assert err.splitlines()[0] == "错误：第 1 个外部检查点不是由当时的站点密钥签名（可能是已被替换的旧密钥或伪造）"
    code, out, _ = _verify(home, "--checkpoint", str(foreign), "--json")
    assert code == 8 and json.loads(out)["reason"] == "checkpoint-unknown-key"


def test_two_checkpoints_of_one_size_with_different_roots(made, tmp_path: Path) -> None:
    """The county holds a checkpoint. The head rewrites the log below it: sgz itself refuses her
    (her own last-seen head catches it at unlock); bypassing sgz, she signs a checkpoint of the
    same size with the station key from her own keys: the two disagree."""
    import base64

    from archive.audit.checkpoint import Checkpoint, origin_for
    from archive.audit.line import DOMAIN_ENTRY, SIG_TAIL, close
    from archive.audit.merkle import leaf_hash, root
    from archive.audit.note import Signer
    from archive.crypto.ed25519 import SigningKey
    from archive.vault import lifecycle

    home, cp, env = _copy(made, tmp_path)
    size = int(cp.read_text(encoding="utf-8").split("\n")[1])
    lines = _lines(home)[:size]
    shutil.rmtree(home / "vault" / "audit" / "checkpoints")
    vault_id = json.loads((home / "vault" / "vault.json").read_text())["vault_id"]
    bag = lifecycle.unlock(lifecycle.VaultFiles(home / "vault" / "keys", home / "vault" / "keyring",
                                                vault_id), "zhangsan", env["SGZ_PASSPHRASE"],
                           work_factor=int(env["SGZ_KDF_WORK_FACTOR"]))
    # she re-signs her own last line with another time, with her own key
    last = json.loads(lines[-1])
    pre = lines[-1][:-SIG_TAIL].replace(f'"ts":"{last["ts"]}"'.encode(), b'"ts":"2025-01-01T00:00:00Z"')
    _write(home, lines[:-1] + [close(pre, SigningKey(bag.signer[1]).sign(DOMAIN_ENTRY + pre))])
    r = run_sgz(["audit", "checkpoint", "-o", str(tmp_path / "forged.note")], env)
    assert r.returncode == 8 and "zhangsan 上次看到" in r.stderr
    forged = _lines(home)
    origin = origin_for(vault_id)
    note = Signer(origin, bag.station_seed()).sign(
        Checkpoint(origin, size, root(leaf_hash(x) for x in forged)).body())
    assert base64.b64decode(note.split("\n")[2]) != base64.b64decode(cp.read_text().split("\n")[2])
    (home / "vault" / "audit" / "checkpoints").mkdir()
    (home / "vault" / "audit" / "checkpoints" / f"{size:012d}.note").write_text(note)
    code, _, err = _verify(home, "--checkpoint", str(cp))
    assert code == 8
    assert err.splitlines()[0] == f"错误：大小为 {size} 的两个检查点根哈希不同：日志曾被分叉"


def test_verify_on_a_home_without_log_is_not_found(tmp_path: Path) -> None:
    code, _, err = _verify(tmp_path)
    assert code == 3 and "审计日志不存在" in err
