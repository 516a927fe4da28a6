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

step "模板清单"
sgz templates list | head -n 12

step "生成并归档本站制度（档案管理制度、保密管理制度、服务章程）"
for t in archive-rules confidentiality-rules service-charter; do
  "${ARCH[@]}" sgz gen "$t" --sample -o "$OUT/$t.docx" --file
done

step "生成入户走访记录与个案服务记录，作为服务档案（一户一档）归档"
for t in home-visit-record case-record; do
  "${ARCH[@]}" sgz gen "$t" --sample -o "$OUT/$t.docx"
done
"${ARCH[@]}" sgz file "$OUT/home-visit-record.docx" "$OUT/case-record.docx" \
  --category 服务 --household H0012 --responsible wangwu --retention D30

step "牌匾（真实尺寸 SVG）"
sgz gen plaque --size 60x40 -o "$OUT/plaque.svg"

step "归档文件目录"
"${ARCH[@]}" sgz ls

if sgz --help | grep -q "search"; then
  step "全文检索：档案 / 走访"
  "${ARCH[@]}" sgz search 档案 || true
  "${ARCH[@]}" sgz search 走访 || true
fi

step "导出一件（须说明事由，先记审计）"
REF=$("${ARCH[@]}" sgz ls --category 服务 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ref"])')
"${HEAD[@]}" sgz get "$REF" -o "$OUT/导出.docx" --reason 演示 --force

step "审计日志校验（无需口令）"
sgz audit verify
"${HEAD[@]}" sgz audit checkpoint -o "$OUT/checkpoint.txt"
"${HEAD[@]}" sgz check --read-data

printf '\n演示完成：档案库在 ./vault，索引在 ./indexes，生成的文书在 ./%s。\n' "$OUT" >&2
