#!/usr/bin/env bash
# summary.sh - prints the totals that each suite appended to build/test-summary.txt
# ("<suite> <passed> <failed>" per line) and fails when any suite failed.
set -u
f=build/test-summary.txt
[ -f "$f" ] || { echo "summary: no results in $f"; exit 1; }
echo "== test summary"
awk '{ printf "  %-14s %6d passed %4d failed\n", $1, $2, $3; p += $2; x += $3 }
     END { printf "  %-14s %6d passed %4d failed\n", "total", p, x; exit (x > 0) }' "$f"
