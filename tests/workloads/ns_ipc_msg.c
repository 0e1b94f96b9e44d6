/*
 * ns_ipc_msg - SysV message queues in the tree's own IPC namespace: ids,
 * keys, mode, a lowered byte limit, and the queued messages in order with
 * their types (one of them empty).
 */
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "wl.h"

#define KEY 0x4b505433

struct m {
	long type;
	char text[64];
};

static const struct {
	long type;
	const char *text;
} want[] = {{1, "first"}, {7, ""}, {1, "third, after an empty one"}, {3, "last"}};

int main(int argc, char **argv)
{
	struct msqid_ds ds;
	struct m m;
	int id, priv;

	wl_init(argc, argv);
	priv = msgget(IPC_PRIVATE, 0600);
	id = msgget(KEY, IPC_CREAT | IPC_EXCL | 0620);
	if (id < 0 || priv < 0)
		return wl_fail("msgget: %m");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		m.type = want[i].type;
		strcpy(m.text, want[i].text);
		if (msgsnd(id, &m, strlen(m.text), 0) < 0)
			return wl_fail("msgsnd: %m");
	}
	m.type = 9;
	if (msgsnd(priv, &m, 8, 0) < 0 || msgctl(priv, IPC_STAT, &ds) < 0)
		return wl_fail("private queue: %m");
	ds.msg_qbytes = 1000;
	if (msgctl(priv, IPC_SET, &ds) < 0)
		return wl_fail("IPC_SET: %m");
	wl_ready();
	wl_wait_restored();
	if (msgget(KEY, 0) != id)
		return wl_fail("key now has id %d, want %d", msgget(KEY, 0), id);
	if (msgctl(id, IPC_STAT, &ds) < 0 || ds.msg_qnum != 4 || (ds.msg_perm.mode & 0777) != 0620)
		return wl_fail("IPC_STAT: %m, qnum %lu", (unsigned long)ds.msg_qnum);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ssize_t n = msgrcv(id, &m, sizeof(m.text), 0, IPC_NOWAIT);

		if (n != (ssize_t)strlen(want[i].text) || m.type != want[i].type ||
		    memcmp(m.text, want[i].text, n))
			return wl_fail("message %zu: type %ld, %zd bytes", i, m.type, n);
	}
	if (msgctl(priv, IPC_STAT, &ds) < 0 || ds.msg_qbytes != 1000 || ds.msg_qnum != 1)
		return wl_fail("private queue: qbytes %lu qnum %lu", (unsigned long)ds.msg_qbytes,
			       (unsigned long)ds.msg_qnum);
	msgctl(id, IPC_RMID, NULL);
	msgctl(priv, IPC_RMID, NULL);
	return wl_pass();
}
