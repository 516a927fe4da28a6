#!/usr/bin/env bash
# `make demo`: the main job on the embedded default station, in ./vault and ./indexes.
# Demo passphrases only — a real station types its own at a hidden prompt.
set -euo pipefail
cd "$(dirname "$0")/.."
export SGZ_HOME="$PWD" SGZ_KDF_WORK_FACTOR="${SGZ_KDF_WORK_FACTOR:-14}"
HEAD=(env SGZ_USER=zhangsan SGZ_PASSPHRASE=demo-head-passphrase)
ARCH=(env SGZ_USER=lisi SGZ_PASSPHRASE=demo-archivist-passphrase)
OUT=demo-out
mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*" >&2; }

if [ ! -f vault/vault.json ]; then
  step "建库：内置示例站点（站长 zhangsan）"
  SGZ_NEW_PASSPHRASE=demo-head-passphrase sgz init --user zhangsan --role head > "$OUT/recovery-code.txt"
  echo "恢复码已保存到 $OUT/recovery-code.txt（演示用；真实站点请打印封存）" >&2
  step "添加档案管理员 lisi、社工 wangwu"
  SGZ_NEW_PASSPHRASE=demo-archivist-passphrase "${HEAD[@]}" sgz user add lisi --role archivist --display 李四
  SGZ_NEW_PASSPHRASE=demo-worker-passphrase "${HEAD[@]}" sgz user add wangwu --role social_worker --display 王五
fi

step "模板清单（全部模板见 $OUT/templates.txt）"
sgz templates list > "$OUT/templates.txt"
sed -n '1,8p' "$OUT/templates.txt"
echo "…… 共 $(wc -l < "$OUT/templates.txt") 个模板" >&2

step "生成并归档本站制度（档案管理制度、保密管理制度、服务章程）"
for t in archive-rules confidentiality-rules service-charter; do
  "${ARCH[@]}" sgz gen "$t" --data "scripts/demo-data/$t.toml" -o "$OUT/$t.docx" --file --force
done

step "生成入户走访记录与个案服务记录，作为服务档案（一户一档）归档"
for t in home-visit-record case-record; do
  "${ARCH[@]}" sgz gen "$t" --data "scripts/demo-data/$t.toml" -o "$OUT/$t.docx" --force
done
"${ARCH[@]}" sgz file "$OUT/home-visit-record.docx" "$OUT/case-record.docx" \
  --category 服务 --household H0012 --responsible wangwu --retention D30

step "牌匾（真实尺寸 SVG 与 PDF），PDF 作为行政档案归档"
PLAQUE_REF=$("${ARCH[@]}" sgz gen plaque --data scripts/demo-data/plaque.toml -o "$OUT/plaque.svg" --pdf --file --force | tail -n 1)
echo "牌匾式样档号：$PLAQUE_REF" >&2

step "归档文件目录"
"${ARCH[@]}" sgz ls

step "全文检索（档案管理员）：服务档案不在其结果中——不显示，也不计数"
"${ARCH[@]}" sgz search 走访
step "全文检索（站长）：可见全部档案"
"${HEAD[@]}" sgz search 走访 --category 服务

step "外单位查阅：档案管理员登记，站长批准，制作带水印、禁止复制打印的查阅件"
printf '介绍信\n兹介绍我单位工作人员前往贵站查阅牌匾式样档案，请予接洽。\n长春示例评估中心\n' > "$OUT/介绍信.txt"
if [ -n "${PLAQUE_REF:-}" ]; then
  REQ=$("${ARCH[@]}" sgz access request --unit 长春示例评估中心 --letter "$OUT/介绍信.txt" \
        --purpose 第三方评估 --items "$PLAQUE_REF" | tail -n 1)
  "${HEAD[@]}" sgz access approve "$REQ"
  "${ARCH[@]}" sgz access view "$REQ" "$PLAQUE_REF" -o "$OUT/查阅件.pdf" --force
  "${ARCH[@]}" sgz access show "$REQ"
fi

step "导出一件（须说明事由，先记审计）"
REF=$("${ARCH[@]}" sgz ls --category 服务 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ref"])')
"${HEAD[@]}" sgz get "$REF" -o "$OUT/导出.docx" --reason 演示 --force

step "审计日志校验（无需口令）"
sgz audit verify
"${HEAD[@]}" sgz audit checkpoint -o "$OUT/checkpoint.txt"
"${HEAD[@]}" sgz check --read-data

printf '\n演示完成：档案库在 ./vault，索引在 ./indexes，生成的文书在 ./%s。\n' "$OUT" >&2
