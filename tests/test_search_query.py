"""Query parser: syntax, normalisation and Chinese error messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.errors import ValidationError
from archive.search.normalize import normalize
from archive.search.query import parse
from archive.search.tokens import index_tokens


def test_normalize_fullwidth_traditional_and_ocr_spaces() -> None:
    assert normalize("國辦發〔２０１９〕３號") == "国办发[2019]3号"
    assert normalize("临 时 救 助 ABC") == "临时救助 abc"


def test_tokens_bigrams_and_units() -> None:
    bi, uni = index_tokens("临时救助金 3号")
    assert bi.split() == ["临时", "时救", "救助", "助金", "3号"]
    assert uni.split() == ["临", "时", "救", "助", "金", "3", "号"]


@pytest.mark.parametrize(("query", "expected"), [
    ("低保", '{title_bi body_bi no_bi} : "低保"'),
    ("张", '{title_uni body_uni no_uni} : "张"'),
    ("救助*", '{title_bi body_bi no_bi} : "救助"'),
    ("abc*", '{title_uni body_uni no_uni} : "abc"*'),
    ("title:低保", '{title_bi} : "低保"'),
    ('题名:"临时救助"', '{title_bi} : "临时 时救 救助"'),
])
def test_single_terms(query: str, expected: str) -> None:
    assert parse(query).fts == expected


def test_operators_english_and_chinese() -> None:
    assert " OR " in parse("低保 或 特困").fts
    assert " NOT " in parse("低保 非 特困").fts
    assert " NOT " in parse("低保 -特困").fts
    assert parse("低保 与 特困").fts == parse("低保 AND 特困").fts
    # 与 inside a word is not an operator
    assert " AND " not in parse("参与").fts


def test_docno_with_brackets_is_plain_text() -> None:
    p = parse("国办发(2019)3号")
    assert p.plain and "2019" in p.fts and "3号" in p.fts
    assert parse("文号:国办发〔2019〕3号").fts.count("{no_") == 3


@pytest.mark.parametrize(("query", "fragment"), [
    ("", "查询为空"),
    ("   ", "查询为空"),
    ('"临时救助', "引号不成对"),
    ("(低保 OR 特困", "括号不成对"),
    ("低保 AND", "后面缺少检索词"),
    ("OR 低保", "缺少检索词"),
    ("-低保", "不能只有排除条件"),
    ("foo:低保", "未知的检索字段"),
    ("title:", "后面缺少检索词"),
    ("。，！", "没有可检索的文字"),
])
def test_malformed_queries_raise_chinese_validation_error(query: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse(query)
    assert fragment in str(err.value)


@given(st.text(alphabet=st.sampled_from(list('低保救助张"()-*: ANDORNT与或非〔〕１号')), max_size=30))
def test_parser_never_fails_other_than_validation(query: str) -> None:
    try:
        parse(query)
    except ValidationError:
        pass
