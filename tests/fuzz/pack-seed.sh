#!/bin/sh
# tests/fuzz/pack-seed.sh MODE BUNDLE_DIR > seed
# Pack a bundle directory into bundle_fuzz's input format: one mode byte,
# then "@@NAME\n" + contents for each file, separated by a newline.
mode=$1 dir=$2
printf "\\$(printf '%03o' "$mode")"
first=1
for f in "$dir"/*; do
	[ "$first" = 1 ] || printf '\n'
	first=0
	printf '@@%s\n' "${f##*/}"
	cat "$f"
done
