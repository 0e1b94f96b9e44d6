/*
 * fd_inet - holds a UDP-Lite socket with a datagram it sent to itself
 * still unread, an inet socket this version cannot checkpoint: the
 * checkpoint must fail naming the fd and leave it running; it still passes
 * when told to go without any restore, the datagram still there.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "wl.h"
#include "wl_sys.h"

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	char buf[8] = "";
	int sk;

	wl_init(argc, argv);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE);
	if (sk < 0)
		return wl_fail("socket: %m");
	if (bind(sk, (void *)&a, sizeof(a)) < 0 || getsockname(sk, (void *)&a, &al) < 0 ||
	    connect(sk, (void *)&a, sizeof(a)) < 0 || send(sk, "queued", 6, 0) != 6)
		return wl_fail("bind/connect/send: %m");
	wl_ready();
	wl_wait_restored();
	if (recv(sk, buf, sizeof(buf), MSG_DONTWAIT) != 6 || memcmp(buf, "queued", 6))
		return wl_fail("the queued datagram is gone: %m");
	return wl_pass();
}
