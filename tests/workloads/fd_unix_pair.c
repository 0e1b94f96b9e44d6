/*
 * fd_unix_pair - socketpairs across two processes: a stream pair with bytes
 * queued in both directions, a datagram pair with three messages queued
 * (boundaries kept), SO_PASSCRED on one end. After restore each side reads
 * exactly what was queued, and new data flows both ways.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

static int child(int s, int d)
{
	char buf[64];

	/* after restore: the queued bytes, then a reply */
	if (read(s, buf, sizeof(buf)) != 9 || memcmp(buf, "to-child!", 9))
		return 1;
	if (write(s, "reply", 5) != 5)
		return 2;
	if (recv(d, buf, sizeof(buf), 0) != 2 || memcmp(buf, "d1", 2))
		return 3;
	return 0;
}

int main(int argc, char **argv)
{
	int s[2], d[2], sync[2], on = 1, st;
	socklen_t l = sizeof(on);
	char buf[64];
	pid_t kid;

	wl_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, d) < 0 || pipe(sync) < 0)
		return wl_fail("socketpair: %m");
	setsockopt(s[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	if (write(s[0], "to-child!", 9) != 9 || write(s[1], "to-parent", 9) != 9 ||
	    send(d[1], "one", 3, 0) != 3 || send(d[1], "two!", 4, 0) != 4 ||
	    send(d[1], "three", 5, 0) != 5 || send(d[0], "d1", 2, 0) != 2)
		return wl_fail("queue: %m");
	kid = fork();
	if (kid == 0) {
		close(s[0]);
		close(d[0]);
		if (read(sync[0], buf, 1) != 1)
			_exit(9);
		_exit(child(s[1], d[1]));
	}
	close(s[1]);
	close(d[1]);
	wl_ready();
	wl_wait_restored();
	if (read(s[0], buf, sizeof(buf)) != 9 || memcmp(buf, "to-parent", 9))
		return wl_fail("stream data to the parent lost");
	if (recv(d[0], buf, sizeof(buf), 0) != 3 || recv(d[0], buf, sizeof(buf), 0) != 4 ||
	    recv(d[0], buf, sizeof(buf), 0) != 5 || memcmp(buf, "three", 5))
		return wl_fail("datagrams lost or merged");
	if (getsockopt(s[0], SOL_SOCKET, SO_PASSCRED, &on, &l) < 0 || !on)
		return wl_fail("SO_PASSCRED lost");
	if (write(sync[1], "g", 1) != 1)
		return wl_fail("sync: %m");
	if (read(s[0], buf, sizeof(buf)) != 5 || memcmp(buf, "reply", 5))
		return wl_fail("no reply from the child");
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
		return wl_fail("child status %#x", st);
	return wl_pass();
}
