"""Query language → FTS5 MATCH expression over the bigram/unit columns.

Syntax: words are ANDed; "quoted phrases" (also “…” and 「…」); AND / OR / NOT and
与 / 或 / 非 as separate words; -词 excludes; 救助* is a prefix; parentheses group;
title:/题名: and doc_no:/文号: restrict a word or phrase to one field. Chinese words match
as substrings (bigrams), so fragments cut mid-word still match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from archive.errors import ValidationError
from archive.search.normalize import normalize
from archive.search.tokens import segment_bigrams, segments

FIELDS = {"title": "title", "题名": "title", "doc_no": "no", "文号": "no", "docno": "no"}
_OPS = {"AND": "AND", "与": "AND", "OR": "OR", "或": "OR", "NOT": "NOT", "非": "NOT"}
_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "”": "”"}
_FIELD_RE = re.compile(r"^([A-Za-z_]+|题名|文号)[:：](.*)$", re.S)
COLUMNS = ("title_bi", "title_uni", "body_bi", "body_uni", "no_bi", "no_uni")


def _cols(fieldname: str | None, kind: str) -> str:
    names = ("title", "body", "no") if fieldname is None else (fieldname,)
    return "{" + " ".join(f"{n}_{kind}" for n in names) + "}"


@dataclass
class Term:
    """One word or phrase, already normalised into segments of units."""

    segs: list[list[str]]
    field: str | None = None
    prefix: bool = False
    phrase: bool = False

    def fts(self) -> str:
        """FTS5 expression matching this term."""
        if self.phrase and len(self.segs) > 1:
            toks = [t for s in self.segs for t in segment_bigrams(s)]
            return f'{_cols(self.field, "bi")} : "{" ".join(toks)}"'
        parts = []
        for i, seg in enumerate(self.segs):
            last = i == len(self.segs) - 1
            if self.prefix and last and not _is_cjk_unit(seg[-1]):
                parts.append(f'{_cols(self.field, "uni")} : "{" ".join(seg)}"*')
            elif len(seg) == 1:
                parts.append(f'{_cols(self.field, "uni")} : "{seg[0]}"')
            else:
                parts.append(f'{_cols(self.field, "bi")} : "{" ".join(segment_bigrams(seg))}"')
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def literals(self) -> list[str]:
        """The normalised strings to highlight in snippets."""
        return ["".join(s) for s in self.segs]


@dataclass
class Group:
    """A conjunction (op AND) or disjunction (op OR) of nodes, with AND's exclusions."""

    op: str
    items: list[Term | Group] = field(default_factory=list)
    excluded: list[Term | Group] = field(default_factory=list)

    def fts(self) -> str:
        """FTS5 expression for the group."""
        if not self.items:
            raise ValidationError("查询不能只有排除条件（NOT、非、-词），请至少给出一个要查找的词")
        expr = f" {self.op} ".join(i.fts() for i in self.items)
        expr = f"({expr})" if len(self.items) > 1 or self.excluded else expr
        for ex in self.excluded:
            expr = f"({expr} NOT {ex.fts()})"
        return expr


@dataclass
class ParsedQuery:
    """What the index needs: the strict expression and what a fallback or snippet uses."""

    fts: str
    literals: list[str]
    plain: bool
    bigrams: list[str]
    field_free: bool = True
    # a plain query's phrases: the bigrams of each segment of two units or more (each must
    # sit at consecutive positions of one bigram column), and its one-unit segments
    phrases: list[list[str]] = field(default_factory=list)
    units: list[str] = field(default_factory=list)


def _is_cjk_unit(unit: str) -> bool:
    return len(unit) == 1 and unicodedata.category(unit) == "Lo" and not unit.isascii()


def _lex(query: str) -> list[tuple[str, str]]:
    """Split into (kind, value): LP, RP, OP, NEG, WORD, PHRASE, FIELD (value 'name')."""
    out: list[tuple[str, str]] = []
    i, n, depth = 0, len(query), 0
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c == "(":
            out.append(("LP", c))
            depth += 1
            i += 1
        elif c == ")" and depth > 0:
            out.append(("RP", c))
            depth -= 1
            i += 1
        elif c in _QUOTES:
            close = _QUOTES[c]
            j = query.find(close, i + 1)
            if j < 0 and c != '"':
                i += 1  # a lone Chinese quote in pasted text is punctuation, not syntax
                continue
            if j < 0:
                raise ValidationError("引号不成对：请检查查询中的引号")
            out.append(("PHRASE", query[i + 1 : j]))
            i = j + 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in _QUOTES:
                j += 1
            word = query[i:j]
            # Trailing ")" beyond the word's own "(" close open groups: "(低保 OR 救助)".
            rp = 0
            while word.endswith(")") and word.count(")") > word.count("(") and depth - rp > 0:
                word, rp = word[:-1], rp + 1
            i = j
            if j < n and query[j] in _QUOTES and (m := _FIELD_RE.match(word)) and not m.group(2):
                out.append(("FIELD", m.group(1)))
            elif word in _OPS:
                out.append(("OP", _OPS[word]))
            elif word.startswith("-") and len(word) > 1:
                out.append(("NEG", ""))
                out.append(("WORD", word[1:]))
            elif word:
                out.append(("WORD", word))
            out.extend([("RP", ")")] * rp)
            depth -= rp
    if depth:
        raise ValidationError("括号不成对：请检查查询中的括号")
    return out


class _Parser:
    """Recursive-descent parser: or := and (OR and)*; and := unary+; unary := NOT? atom."""

    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks = toks
        self.pos = 0
        self.terms: list[Term] = []
        self.plain = True

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def parse(self) -> Group:
        node = self.or_expr()
        if self.peek() is not None:
            raise ValidationError("括号不成对：多余的右括号")
        return node

    def or_expr(self) -> Group:
        items: list[Term | Group] = [self.and_expr()]
        while (t := self.peek()) and t == ("OP", "OR"):
            self.plain = False
            self.pos += 1
            if self.peek() is None or self.peek()[0] in ("RP", "OP"):  # type: ignore[index]
                raise ValidationError("“或/OR”后面缺少检索词")
            items.append(self.and_expr())
        return items[0] if len(items) == 1 and isinstance(items[0], Group) else Group("OR", items)

    def and_expr(self) -> Group:
        group = Group("AND")
        empty_atoms = 0
        while (t := self.peek()) and t[0] != "RP" and t != ("OP", "OR"):
            if t == ("OP", "AND"):
                self.plain = False
                self.pos += 1
                if not group.items and not group.excluded:
                    raise ValidationError("“与/AND”前面缺少检索词")
                nxt = self.peek()
                if nxt is None or nxt[0] == "RP" or nxt == ("OP", "OR"):
                    raise ValidationError("“与/AND”后面缺少检索词")
                continue
            negate = t[0] == "NEG" or t == ("OP", "NOT")
            if negate:
                self.plain = False
                self.pos += 1
                nxt = self.peek()
                if nxt is None or nxt[0] in ("RP", "OP"):
                    raise ValidationError("“非/NOT/-”后面缺少要排除的词")
            node = self.atom()
            if node is None:
                empty_atoms += 1
                continue
            (group.excluded if negate else group.items).append(node)
        if not group.items and not group.excluded:
            if empty_atoms:
                raise ValidationError("查询中没有可检索的文字（只有标点或符号）")
            raise ValidationError("查询为空，或运算符（与/或/非）两侧缺少检索词")
        return group

    def atom(self) -> Term | Group | None:
        kind, value = self.toks[self.pos]
        self.pos += 1
        if kind == "LP":
            self.plain = False
            inner = self.or_expr()
            if self.peek() is None or self.peek()[0] != "RP":  # type: ignore[index]
                raise ValidationError("括号不成对：请检查查询中的括号")
            self.pos += 1
            return inner
        if kind == "OP":
            raise ValidationError(f"运算符位置不对：{value}")
        fieldname = None
        if kind == "FIELD":
            fieldname = self._field(value)
            kind, value = self.toks[self.pos]
            self.pos += 1
        elif kind == "WORD" and (m := _FIELD_RE.match(value)):
            fieldname = self._field(m.group(1))
            value = m.group(2)
            if not value:
                raise ValidationError(f"字段“{m.group(1)}:”后面缺少检索词")
        phrase = kind == "PHRASE"
        prefix = not phrase and value.endswith("*")
        text = value.rstrip("*") if prefix else value
        segs = segments(normalize(text))
        if not segs:
            return None
        if phrase or prefix or fieldname:
            self.plain = False
        term = Term(segs, field=fieldname, prefix=prefix, phrase=phrase)
        self.terms.append(term)
        return term

    def _field(self, name: str) -> str:
        self.plain = False
        key = FIELDS.get(name.lower()) or FIELDS.get(name)
        if key is None:
            raise ValidationError(
                f"未知的检索字段“{name}”：可用 title:（题名）和 doc_no:（文号）", found=name
            )
        return key


def parse(query: str) -> ParsedQuery:
    """Parse a user query; malformed input raises ValidationError with a Chinese message."""
    if len(query) > 2000:
        raise ValidationError("查询过长：请不超过 2000 个字符")
    raw = unicodedata.normalize("NFKC", query).strip()
    if not raw:
        raise ValidationError("查询为空：请输入要查找的字词")
    parser = _Parser(_lex(raw))
    tree = parser.parse()
    if not parser.terms:
        raise ValidationError("查询中没有可检索的文字（只有标点或运算符）")
    bigrams: list[str] = []
    for t in parser.terms:
        for s in t.segs:
            for b in segment_bigrams(s):
                if b not in bigrams:
                    bigrams.append(b)
    literals = sorted({lit for t in parser.terms for lit in t.literals()}, key=len, reverse=True)
    segs = [s for t in parser.terms for s in t.segs] if parser.plain else []
    return ParsedQuery(tree.fts(), literals, parser.plain, bigrams,
                       phrases=[segment_bigrams(s) for s in segs if len(s) > 1],
                       units=[s[0] for s in segs if len(s) == 1])
