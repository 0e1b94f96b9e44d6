/*
 * namespaces/net-lock.c - the network lock: a table of ckpt-oci's own in
 * the tree's network namespace, an input and an output chain hooked before
 * anything else with a drop policy. While it is there no packet enters or
 * leaves the namespace, so a peer sees neither a reset nor any answer from
 * a socket that is half dumped (in repair mode) or half made; it
 * retransmits, and the connection goes on once the lock is gone.
 *
 * Dump: set once the namespaces are dumped (so the ruleset saved in
 * net.json never holds it), before any socket is read; removed when the
 * tree runs on (--leave-running) or is released after a failure. A killed
 * tree's namespace keeps it: nothing of the old namespace should answer
 * the peer any more (it goes away with the tree unless something pins it).
 *
 * Restore: set by the root inside the new namespace right after the links
 * are made, before any socket of the tree exists; removed from ckpt-oci
 * (resume) right before the tree is detached.
 *
 * Only a tree with a network namespace of its own is locked: locking
 * ckpt-oci's namespace would cut the host off.
 */
#define LOG_PREFIX "net: "
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "namespaces/net.h"
#include "util/log.h"
#include "util/util.h"

#define NET_LOCK_TABLE "inet " NET_LOCK_NAME
/* INET_UDP_INJECT_MARK of libckpt/files/inet-udp.h, as nft reads it */
#define NET_LOCK_PASS_MARK "0x636b7074"
/*
 * priority INT_MIN: before conntrack, raw and every chain the tree may have.
 * Datagrams that restore queues again (libckpt/files/inet-udp.c) carry a
 * mark and pass; a mark does not survive crossing into another namespace,
 * so no peer outside can use it.
 */
#define NET_LOCK_HOOK(h)                                                          \
	"\tchain " h " { type filter hook " h " priority -2147483648; policy drop;\n" \
	"\t\tmeta mark " NET_LOCK_PASS_MARK " accept\n\t}\n"

static const char net_lock_rules[] = "table " NET_LOCK_TABLE " {\n"
	NET_LOCK_HOOK("input")
	NET_LOCK_HOOK("output")
	"}\n";

static const char net_unlock_rules[] = "delete table " NET_LOCK_TABLE "\n";

/* `nft -f -` fed with rules, in the caller's network namespace. */
static int nft_apply(const char *rules, const char *what, ckpt_err_t *err)
{
	FILE *f = popen("nft -f -", "we");
	size_t len = strlen(rules);
	int status;

	if (!f)
		return ckpt_error(err, errno, "run nft to %s the network", what);
	if (fwrite(rules, 1, len, f) != len) {
		pclose(f);
		return ckpt_error_msg(err, EIO, "write to nft to %s the network", what);
	}
	status = pclose(f);
	if (status != 0)
		return ckpt_error_msg(err, EIO, "nft failed to %s the network (status 0x%x)",
				      what, status);
	return 0;
}

int net_lock_here(ckpt_err_t *err)
{
	int ret = nft_apply(net_lock_rules, "lock", err);

	if (ret == 0)
		pr_info("network locked");
	return ret;
}

static struct json *lock_fn(void *arg, ckpt_err_t *err)
{
	(void)arg;
	return net_lock_here(err) < 0 ? NULL : json_obj();
}

static struct json *unlock_fn(void *arg, ckpt_err_t *err)
{
	(void)arg;
	return nft_apply(net_unlock_rules, "unlock", err) < 0 ? NULL : json_obj();
}

int net_lock_ns(int nsfd, ckpt_err_t *err)
{
	cleanup_json struct json *res = NULL;

	return ns_exec_json(nsfd, CLONE_NEWNET, lock_fn, NULL, &res, err);
}

int net_unlock_ns(int nsfd, ckpt_err_t *err)
{
	cleanup_json struct json *res = NULL;
	int ret = ns_exec_json(nsfd, CLONE_NEWNET, unlock_fn, NULL, &res, err);

	if (ret == 0)
		pr_info("network unlocked");
	return ret;
}

int net_unlock_pid(pid_t pid, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/ns/net", pid);
	cleanup_close int nsfd = open(path, O_RDONLY | O_CLOEXEC);

	if (nsfd < 0)
		return ckpt_error(err, errno, "open %s", path);
	return net_unlock_ns(nsfd, err);
}
