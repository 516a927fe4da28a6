"""Template manifests (`templates/<id>/manifest.toml`): load, validate, discover.

A manifest is validated as a whole when loaded; every problem is reported at once and unknown
keys are errors naming the key, so a typo in a template never silently drops a setting.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.docgen.rules import Rule, parse_rules
from archive.errors import NotFound, ValidationError
from archive.tomlzh import toml_error

KINDS = ("章程", "制度", "协议", "表单", "牌匾")
CATEGORIES = {"XZ": "行政", "FW": "服务", "RS": "人事", "CW": "财务"}
RETENTIONS = {"Y": "永久", "D30": "定期30年", "D10": "定期10年"}
LAYOUTS = ("gbt9704", "form", "form-landscape", "plaque")
FIELD_TYPES = ("string", "text", "int", "decimal", "money", "date", "bool", "choice", "idcard",
               "list", "table")
TYPE_LABELS = {
    "string": "文本", "text": "多行文本", "int": "整数", "decimal": "数值", "money": "金额（元）",
    "date": "日期", "bool": "是/否", "choice": "单选", "idcard": "身份证号码", "list": "列表",
    "table": "表格",
}
# Names every template sees without declaring them; a field may not shadow them.
RESERVED_NAMES = frozenset({
    "station", "today", "cn_date", "cn_money", "rmb_upper", "add_workdays", "star_level",
    "calendar_note", "period_name", "sample_used", "loop",
    "range", "dict", "lipsum", "cycler", "joiner", "namespace", "true", "false", "none",
})

_TOP_KEYS = {"id", "title", "kind", "clause", "category", "retention", "layout",
             "description", "fields", "sample", "aliases", "rules"}
_FIELD_KEYS = {"name", "label", "type", "required", "default", "choices", "help", "columns"}
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

MANIFEST_FILE = "manifest.toml"
BODY_FILE = "body.md"
DOCX_FILE = "template.docx"


@dataclass(frozen=True)
class Field:
    """One typed input of a template (or one column of a table field)."""

    name: str
    label: str
    type: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    help: str = ""
    columns: tuple[Field, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """A template's metadata, fields and sample data."""

    id: str
    title: str
    kind: str
    clause: str
    category: str
    retention: str
    layout: str
    description: str = ""
    fields: tuple[Field, ...] = ()
    sample: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None
    aliases: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()

    @property
    def docx_path(self) -> Path:
        assert self.folder is not None
        return self.folder / DOCX_FILE

    @property
    def body_path(self) -> Path:
        assert self.folder is not None
        return self.folder / BODY_FILE

    def field_named(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def default_templates_dir() -> Path:
    """The `templates/` folder shipped next to the package (repository or install root)."""
    return Path(__file__).resolve().parent.parent.parent / "templates"


def _parse_field(raw: Any, where: str, problems: list[str], *, column: bool) -> Field | None:
    if not isinstance(raw, dict):
        problems.append(f"{where} 必须是表")
        return None
    for key in raw:
        if key not in _FIELD_KEYS or (column and key == "columns"):
            problems.append(f"{where} 有未知的键 {key}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        problems.append(f"{where} 的 name“{name}”应为小写英文 snake_case")
        name = str(name)
    elif name in RESERVED_NAMES:
        problems.append(f"{where} 的 name“{name}”是保留名称")
    where = f"{where}（{name}）"
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        problems.append(f"{where} 缺少 label（中文名称）")
        label = name
    ftype = raw.get("type", "string")
    if ftype not in FIELD_TYPES or (column and ftype == "table"):
        problems.append(f"{where} 的 type“{ftype}”无效，可选：{' '.join(FIELD_TYPES)}")
        ftype = "string"
    required = raw.get("required", False)
    if not isinstance(required, bool):
        problems.append(f"{where} 的 required 必须是 true 或 false")
        required = False
    choices = raw.get("choices", [])
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        problems.append(f"{where} 的 choices 必须是文本列表")
        choices = []
    if ftype == "choice" and not choices:
        problems.append(f"{where} 是单选类型，须给出 choices")
    if ftype != "choice" and choices:
        problems.append(f"{where} 不是单选类型，不应有 choices")
    help_ = raw.get("help", "")
    if not isinstance(help_, str):
        problems.append(f"{where} 的 help 必须是文本")
        help_ = ""
    columns: list[Field] = []
    if ftype == "table":
        raw_cols = raw.get("columns")
        if not isinstance(raw_cols, list) or not raw_cols:
            problems.append(f"{where} 是表格类型，须给出 [[fields.columns]]")
        else:
            for i, rc in enumerate(raw_cols, 1):
                col = _parse_field(rc, f"{where} 第 {i} 列", problems, column=True)
                if col is not None:
                    columns.append(col)
    elif "columns" in raw and not column:
        problems.append(f"{where} 不是表格类型，不应有 columns")
    fld = Field(name=name, label=label, type=ftype, required=required,
                default=raw.get("default"), choices=tuple(choices), help=help_,
                columns=tuple(columns))
    if fld.default not in (None, ""):
        from archive.docgen.fields import coerce_value

        try:
            coerce_value(fld, fld.default)
        except ValueError as exc:
            problems.append(f"{where} 的 default 无效：{exc}")
    return fld


def parse_manifest(data: dict[str, Any], source: str, folder: Path | None = None) -> Manifest:
    """Validate a parsed manifest; raise ValidationError listing every problem."""
    problems: list[str] = []
    for key in data:
        if key not in _TOP_KEYS:
            problems.append(f"有未知的键 {key}")
    text = {}
    for key in ("id", "title", "kind", "clause", "category", "retention", "layout"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"缺少 {key}")
            value = ""
        text[key] = value
    if text["id"] and not _ID_RE.match(text["id"]):
        problems.append(f"id“{text['id']}”应为小写英文短横线格式，如 archive-management-rules")
    if folder is not None and text["id"] and text["id"] != folder.name:
        problems.append(f"id“{text['id']}”与文件夹名“{folder.name}”不一致")
    if text["kind"] and text["kind"] not in KINDS:
        problems.append(f"kind“{text['kind']}”无效，可选：{' '.join(KINDS)}")
    if text["category"] and text["category"] not in CATEGORIES:
        problems.append(f"category“{text['category']}”无效，可选：{' '.join(CATEGORIES)}")
    if text["retention"] and text["retention"] not in RETENTIONS:
        problems.append(f"retention“{text['retention']}”无效，可选：{' '.join(RETENTIONS)}")
    if text["layout"] and text["layout"] not in LAYOUTS:
        problems.append(f"layout“{text['layout']}”无效，可选：{' '.join(LAYOUTS)}")
    if (text["layout"] == "plaque") != (text["kind"] == "牌匾") and text["layout"] and text["kind"]:
        problems.append("layout = \"plaque\" 只用于 kind = \"牌匾\"，反之亦然")
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append("description 必须是文本")
        description = ""
    raw_fields = data.get("fields", [])
    fields: list[Field] = []
    if not isinstance(raw_fields, list):
        problems.append("fields 必须写成 [[fields]] 数组")
        raw_fields = []
    seen: set[str] = set()
    for i, rf in enumerate(raw_fields, 1):
        fld = _parse_field(rf, f"第 {i} 个字段", problems, column=False)
        if fld is None:
            continue
        if fld.name in seen:
            problems.append(f"字段 {fld.name} 重复")
        seen.add(fld.name)
        fields.append(fld)
    sample = data.get("sample", {})
    if not isinstance(sample, dict):
        problems.append("sample 必须是表 [sample]")
        sample = {}
    for key in sample:
        if key not in seen:
            problems.append(f"[sample] 中的 {key} 不是本模板的字段")
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip()
                                                for a in aliases):
        problems.append("aliases 必须是文本列表，如 [\"保密制度\"]")
        aliases = []
    rules = parse_rules(data.get("rules"), {f.name: f for f in fields}, problems)
    if problems:
        raise ValidationError(
            f"模板清单 {source} 有 {len(problems)} 处错误：\n  - " + "\n  - ".join(problems),
            details=problems,
        )
    return Manifest(fields=tuple(fields), sample=dict(sample), description=description,
                    folder=folder, aliases=tuple(a.strip() for a in aliases), rules=rules,
                    **text)


def load_manifest(folder: Path) -> Manifest:
    """Read and validate `<folder>/manifest.toml`."""
    path = Path(folder) / MANIFEST_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"找不到模板清单 {path}") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{path} 不是 UTF-8 编码的文本文件") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"模板清单 {path} 不是有效的 TOML：{toml_error(exc)}") from None
    return parse_manifest(data, str(path), Path(folder))


def template_folders(root: Path) -> list[Path]:
    """Every folder under `root` that holds a manifest, sorted by id."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / MANIFEST_FILE).is_file())


def list_manifests(root: Path) -> list[Manifest]:
    """Load every manifest under `root` (raises on the first invalid one)."""
    return [load_manifest(p) for p in template_folders(root)]


def get_manifest(root: Path, template_id: str) -> Manifest:
    """Load one template's manifest by id; NotFound names the known ids."""
    folder = Path(root) / template_id
    if not _ID_RE.match(template_id) or not (folder / MANIFEST_FILE).is_file():
        known = "、".join(p.name for p in template_folders(root)) or "（无）"
        raise NotFound(f"没有名为“{template_id}”的模板。可用模板：{known}", found=template_id)
    return load_manifest(folder)
