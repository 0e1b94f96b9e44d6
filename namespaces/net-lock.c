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

#include "files/inet-udp.h"
#include "namespaces/net.h"
#include "util/log.h"
#include "util/util.h"

/*
 * The table, as `nft list table inet ckpt_oci_lock` shows it:
 *
 *	table inet ckpt_oci_lock {
 *		chain input { type filter hook input priority -2147483648; policy drop;
 *			meta mark 0x636b7074 accept
 *		}
 *		chain output { ... the same, hook output ... }
 *	}
 *
 * priority INT_MIN: before conntrack, raw and every chain the tree may have.
 * Datagrams that restore queues again (libckpt/files/inet-udp.c) carry
 * INET_UDP_INJECT_MARK and pass; a mark does not survive crossing into
 * another namespace, so no peer outside can use it.
 *
 * It is added or deleted in one nfnetlink batch (net-nft.c) rather than by
 * running `nft -f -`: nft's start alone costs tens of milliseconds, paid
 * twice while the tree is stopped (lock at dump, unlock at restore).
 */
static int lock_on(int fd, bool add, ckpt_err_t *err)
{
	int ret;

	if (fd < 0)
		return fd;
	ret = nft_lock_table(fd, NET_LOCK_NAME, INET_UDP_INJECT_MARK, add);
	close(fd);
	/* no table: unlocked already (a recovery of the same killed run beside this one) */
	if (!add && ret == -ENOENT) {
		pr_info("network unlocked already");
		return 0;
	}
	if (ret < 0)
		return ckpt_error(err, -ret, "%s the network (table inet " NET_LOCK_NAME ")",
				  add ? "lock" : "unlock");
	pr_info("network %s", add ? "locked" : "unlocked");
	return 0;
}

int net_lock_here(ckpt_err_t *err)
{
	int fd = nft_socket();

	if (fd < 0)
		return ckpt_error(err, -fd, "nfnetlink socket to lock the network");
	return lock_on(fd, true, err);
}

/*
 * An nfnetlink socket made inside the namespace behind nsfd: only this
 * thread joins it, for the socket() call; the socket stays bound to it.
 */
static int nft_socket_in(int nsfd, ckpt_err_t *err)
{
	cleanup_close int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd;

	if (own < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		return ckpt_error(err, errno, "join the tree's network namespace");
	fd = nft_socket();
	if (setns(own, CLONE_NEWNET) < 0) {
		closep(&fd);
		return ckpt_error(err, errno, "back to ckpt-oci's network namespace");
	}
	return fd < 0 ? ckpt_error(err, -fd, "nfnetlink socket in the tree's namespace") : fd;
}

int net_lock_ns(int nsfd, ckpt_err_t *err)
{
	return lock_on(nft_socket_in(nsfd, err), true, err);
}

int net_unlock_ns(int nsfd, ckpt_err_t *err)
{
	return lock_on(nft_socket_in(nsfd, err), false, err);
}

int net_unlock_pid(pid_t pid, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/ns/net", pid);
	cleanup_close int nsfd = open(path, O_RDONLY | O_CLOEXEC);

	if (nsfd < 0)
		return ckpt_error(err, errno, "open %s", path);
	return net_unlock_ns(nsfd, err);
}
