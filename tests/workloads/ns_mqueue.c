/*
 * ns_mqueue - a POSIX message queue in the tree's own IPC namespace (no fd
 * of it open while checkpointed): attributes, mode and messages kept, in
 * priority order and oldest first within a priority.
 */
#include <fcntl.h>
#include <mqueue.h>
#include <string.h>
#include <sys/stat.h>

#include "wl.h"

#define NAME "/ckpt-wl-queue"

static const struct {
	unsigned prio;
	const char *text;
} sent[] = {{1, "low one"}, {9, "high"}, {1, "low two"}, {4, ""}};
static const int order[] = {1, 3, 0, 2};

int main(int argc, char **argv)
{
	struct mq_attr a = {.mq_maxmsg = 7, .mq_msgsize = 100};
	char buf[100];
	unsigned prio;
	mqd_t q;

	wl_init(argc, argv);
	umask(0);
	q = mq_open(NAME, O_CREAT | O_EXCL | O_WRONLY, 0640, &a);
	if (q == (mqd_t)-1)
		return wl_fail("mq_open: %m");
	for (size_t i = 0; i < 4; i++)
		if (mq_send(q, sent[i].text, strlen(sent[i].text), sent[i].prio) < 0)
			return wl_fail("mq_send: %m");
	mq_close(q);
	wl_ready();
	wl_wait_restored();
	q = mq_open(NAME, O_RDONLY | O_NONBLOCK);
	if (q == (mqd_t)-1)
		return wl_fail("queue gone: %m");
	if (mq_getattr(q, &a) < 0 || a.mq_maxmsg != 7 || a.mq_msgsize != 100 || a.mq_curmsgs != 4)
		return wl_fail("attributes: maxmsg %ld msgsize %ld curmsgs %ld", a.mq_maxmsg,
			       a.mq_msgsize, a.mq_curmsgs);
	for (size_t i = 0; i < 4; i++) {
		ssize_t n = mq_receive(q, buf, sizeof(buf), &prio);
		int k = order[i];

		if (n != (ssize_t)strlen(sent[k].text) || prio != sent[k].prio ||
		    memcmp(buf, sent[k].text, n))
			return wl_fail("message %zu: %zd bytes, prio %u", i, n, prio);
	}
	mq_close(q);
	mq_unlink(NAME);
	return wl_pass();
}
