#!/usr/bin/env bats
# tests/integration/docs.bats - the man pages render cleanly, make install
# puts the binary and the pages where they belong, and the CLI synopsis in
# ckpt-oci(1) names every subcommand the binary has.

load helpers

@test "docs: every man page renders without a groff warning" {
	require_cmd groff
	local page
	for page in "$REPO_ROOT"/man/*.[1-8]; do
		run groff -man -ww -z -Tutf8 "$page"
		assert_success
		assert_output ""
	done
}

@test "docs: make install puts the binary and man pages under DESTDIR/PREFIX" {
	run make -C "$REPO_ROOT" --no-print-directory BUILD="${BUILD:-build}" \
		DESTDIR="$T/root" PREFIX=/usr install
	assert_success
	[ -x "$T/root/usr/bin/ckpt-oci" ]
	[ -f "$T/root/usr/share/man/man1/ckpt-oci.1" ]
	[ -f "$T/root/usr/share/man/man5/ckpt-oci-bundle.5" ]
	run "$T/root/usr/bin/ckpt-oci" --version
	assert_success
	assert_output --regexp '^ckpt-oci [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "docs: ckpt-oci(1) documents every subcommand of the binary" {
	local cmd
	run "$CKPT_OCI" --help
	assert_success
	for cmd in $(sed -n 's/^  \([a-z]\+\) .*/\1/p' <<<"$output"); do
		grep -q "^\.B ckpt-oci $cmd" "$REPO_ROOT/man/ckpt-oci.1" ||
			fail "ckpt-oci(1) has no synopsis for \`$cmd\`"
	done
}

@test "docs: every option of checkpoint and restore is in its man page" {
	local cmd opt
	for cmd in checkpoint restore; do
		run "$CKPT_OCI" "$cmd" --help
		assert_success
		for opt in $(grep -o -- '--[a-z][a-z-]*' <<<"$output" | sort -u); do
			grep -q -- "${opt//-/\\\\-}" "$REPO_ROOT/man/ckpt-oci-$cmd.1" ||
				fail "ckpt-oci-$cmd(1) does not document $opt"
		done
	done
}

@test "docs: every option of migrate and receive is in ckpt-oci-migrate(1)" {
	local cmd opt
	for cmd in migrate receive; do
		run "$CKPT_OCI" "$cmd" --help
		assert_success
		for opt in $(grep -o -- '--[a-z][a-z-]*' <<<"$output" | sort -u); do
			grep -q -- "${opt//-/\\\\-}" "$REPO_ROOT/man/ckpt-oci-migrate.1" ||
				fail "ckpt-oci-migrate(1) does not document $cmd $opt"
		done
	done
}

@test "docs: no page or README calls a shipped subcommand unsupported, or asks for sudo" {
	local cmd page
	run "$CKPT_OCI" --help
	assert_success
	for cmd in $(sed -n 's/^  \([a-z]\+\) .*/\1/p' <<<"$output"); do
		for page in "$REPO_ROOT"/man/*.[1-8] "$REPO_ROOT/README.md"; do
			# a paragraph (man: between .PP/.SH; README: between blank
			# lines) naming the subcommand must not call it unsupported
			awk -v cmd="$cmd" -v page="${page##*/}" '
				/^\.(PP|SH|SS|TP)/ || /^$/ { check(); para = ""; next }
				{ para = para " " $0 }
				END { check() }
				function check() {
					if (para ~ ("(^|[^a-z-])" cmd "([^a-z-]|$)") &&
					    tolower(para) ~ /not supported yet|not yet supported|not implemented yet/)
						{ print page ": `" cmd "` called unsupported:" para; bad = 1 }
				}
				END { exit bad }' "$page" || fail "a page contradicts the binary"
		done
	done
	# these machines run everything as root and have no sudo
	run grep -n 'sudo ' "$REPO_ROOT/README.md" "$REPO_ROOT"/man/*.[1-8] "$REPO_ROOT"/scripts/*.sh
	assert_failure
}
