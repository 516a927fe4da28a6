"""The plaintext door holds by structure: only the door decrypts objects, only `authorize`
makes grants, and the package's import graph has no cycle between packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from archive.app import Archive
from archive.errors import AccessDenied
from archive.kernel.door import Grant, mint_grant

ROOT = Path(__file__).resolve().parents[1] / "archive"

# The object decryption API: age's decryptors, unwrapping an object identity, opening a
# ciphertext file. Only these places may name them.
DECRYPT_NAMES = {"open_decrypt", "decrypt", "decrypt_bytes", "unwrap"}  # `decrypt` of age only
ALLOWED = {
    "crypto",                 # the age implementation itself
    "kernel/door.py",         # the door
    "vault/identities.py",    # format 1 ObjectKeys.unwrap (only `sgz upgrade` reads format 1)
    "vault/objectkeys.py",    # defines ObjectKeysV2.unwrap (called only by the door)
    "vault/keyslots.py",      # opens a user's own keyslot (key material, not records)
    "audit/detail.py",        # sealed audit details: only the audit compartment's identity opens them
    "audit/monitor.py",       # a user's own sealed last-seen log state (not records)
    "vault/userkeys.py",      # opens a user's own format-2 keyslot (key material)
    "vault/keyring2.py",      # unwraps compartment keys wrapped to the user (key material)
    "vault/keybag.py",        # walks epoch chains; opens blobs sealed to a compartment
    "vault/sealed.py",        # sealed descriptive fields: catalogue metadata, shown as such
}


def _allowed(rel: str) -> bool:
    return any(rel == a or rel.startswith(a + "/") for a in ALLOWED)


def _modules() -> list[tuple[str, ast.Module]]:
    out = []
    for p in sorted(ROOT.rglob("*.py")):
        rel = p.relative_to(ROOT).as_posix()
        out.append((rel, ast.parse(p.read_text(encoding="utf-8"), filename=rel)))
    return out


def test_no_code_outside_the_door_decrypts_objects() -> None:
    offenders = []
    for rel, tree in _modules():
        if _allowed(rel):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in DECRYPT_NAMES and (
                    node.attr != "decrypt"
                    or (isinstance(node.value, ast.Name) and node.value.id == "age")):
                offenders.append(f"{rel}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module == "archive.crypto.age":
                names = {a.name for a in node.names} & DECRYPT_NAMES
                if names:
                    offenders.append(f"{rel}:{node.lineno} imports {names}")
            # ObjectStore.open hands out raw ciphertext streams for the door to decrypt
            if (isinstance(node, ast.Attribute) and node.attr == "open"
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "objects"
                    and rel not in {"kernel/door.py"}):
                offenders.append(f"{rel}:{node.lineno} objects.open")
    assert offenders == []


def test_the_scan_would_catch_a_bypass(tmp_path: Path) -> None:
    """A control: the same scan finds a decryptor used in a module outside the door."""
    tree = ast.parse("from archive.crypto import age\n"
                     "def leak(k, oid, ident):\n"
                     "    return age.open_decrypt(k.objects.open(oid), [ident])\n")
    hits = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
            and n.attr in DECRYPT_NAMES | {"open"}]
    assert "open_decrypt" in hits and "open" in hits


def test_only_the_mint_token_makes_grants() -> None:
    with pytest.raises(AccessDenied):
        Grant(object(), action="record.read", ref="x", record="x", user="u", rule="r", flag=False)
    with pytest.raises(AccessDenied):
        mint_grant(object(), action="record.read", ref="x", record="x", user="u", rule="r", flag=False)
    import archive.kernel.kernel as kmod

    users = [n for n in ast.walk(ast.parse(Path(kmod.__file__).read_text("utf-8")))
             if isinstance(n, ast.Name) and n.id == "_MINT"]
    assert users, "the kernel mints grants"
    for rel, tree in _modules():
        if rel in {"kernel/door.py", "kernel/kernel.py"}:
            continue
        assert not any(isinstance(n, ast.Name | ast.alias) and getattr(n, "id", getattr(
            n, "name", "")) == "_MINT" for n in ast.walk(tree)), rel


def test_door_refuses_wrong_or_foreign_grants(arc: Archive, make_file) -> None:
    a = arc.records.file([make_file("a.txt", "甲")], category="XZ")[0].ref
    b = arc.records.file([make_file("b.txt", "乙")], category="XZ")[0].ref
    k = arc.kernel
    rec_a, rec_b = k.records.get(a), k.records.get(b)
    comp_b = k.records.components(rec_b.id)[0]
    grant_a = k.authorize("record.read", rec_a, reason="核对")
    with pytest.raises(AccessDenied):  # a grant for one record does not open another
        k.door.open(grant_a, rec_b, comp_b, action="record.get", detail={})
    with pytest.raises(AccessDenied):  # a search grant opens no content
        k.door.open(k.authorize("search"), rec_b, comp_b, action="record.get", detail={})
    with pytest.raises(AccessDenied):  # single-record grants cannot bulk-read
        list(k.door.open_many(grant_a, [(rec_a, comp_b)], action="check.read", detail={}))
    before = k.audit.size()
    with k.door.open(k.authorize("record.read", rec_b, reason="核对"), rec_b, comp_b,
                     action="record.get", detail={}) as s:
        assert s.read().decode() == "乙"
    assert k.audit.size() == before + 1  # the entry came first


def test_rotation_needs_a_rotation_grant(arc: Archive) -> None:
    with pytest.raises(AccessDenied):
        arc.kernel.rotate_epoch(arc.kernel.authorize("search"))


# ----------------------------------------------------------------------- import graph
def _package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _graph() -> dict[str, set[str]]:
    """Package → packages it imports (module- and function-level imports alike)."""
    graph: dict[str, set[str]] = {}
    for rel, tree in _modules():
        mod = "archive." + rel[:-3].replace("/", ".").removesuffix(".__init__")
        src = _package_of(mod)
        graph.setdefault(src, set())
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
            for t in targets:
                if t.startswith("archive.") and _package_of(t) != src:
                    graph[src].add(_package_of(t))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_packages() -> None:
    assert _cycles(_graph()) == []


def test_cycle_detector_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_no_mixins_and_no_type_check_pragmas() -> None:
    for p in ROOT.rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        assert "disable-error-code" not in text, p
        assert "Mixin" not in text, p
