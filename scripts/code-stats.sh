#!/bin/sh
# scripts/code-stats.sh - the size and shape figures STYLE.md asks about,
# for the C code of the engine, namespaces, oci/ and cmd/ (not tests):
# json_as_* uses (lax document getters), functions over 60 lines, files
# over 600 and 800 lines. Run from the repository root.
set -eu
srcs=$(git ls-files 'libckpt/*.[ch]' 'namespaces/*.[ch]' 'oci/*.[ch]' 'cmd/*.[ch]' 'criu/*.[ch]')

echo "json_as_* uses outside the JSON wrapper: $(grep -o 'json_as_[a-z]*(' $srcs |
	grep -vE '^libckpt/(util/)?json\.[ch]:' | wc -l)"

# A function: a line at column 0 that opens with "{" after a signature,
# closed by "}" at column 0 (kernel style, which .clang-format enforces).
long=$(awk '
	FNR == 1 { start = 0 }
	/^\{/ { start = FNR; name = prev }
	/^\}/ && start { n = FNR - start + 1; if (n > 60) print "  " FILENAME ": " n " lines: " name; start = 0 }
	{ prev = $0 }
' $srcs)
echo "functions over 60 lines: $(printf '%s' "$long" | grep -c . || true)"
[ -z "$long" ] || printf '%s\n' "$long"

echo "files over 600 lines: $(wc -l $srcs | awk '$2 != "total" && $1 > 600' | wc -l)"
wc -l $srcs | awk '$2 != "total" && $1 > 600 { print "  " $2 ": " $1 }'
