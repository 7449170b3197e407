#!/usr/bin/env bash
# readme_check.sh APITABLE - fails when README.md's API table differs from what
# the codec's own table prints (refresh it with `make api-table`).
set -u
tool=$1
mkdir -p build
want=$("$tool")
have=$(sed -n '/<!-- api-table:begin -->/,/<!-- api-table:end -->/p' README.md | sed '1d;$d')
if [ "$want" == "$have" ]; then
    echo "readme-check: README.md's API table matches the codec"
    echo "readme 1 0" >>build/test-summary.txt
else
    echo "readme-check: FAILED: README.md's API table is stale; run 'make api-table'"
    diff <(echo "$have") <(echo "$want") | head -20
    echo "readme 0 1" >>build/test-summary.txt
    exit 1
fi
