/*
 * inet_udp_cork - a UDP socket connected to itself with UDP_CORK on and a
 * datagram being built (sent while corked, not yet out): the checkpoint
 * must refuse it in one line and leave it running; told to go, it
 * uncorks and receives the whole datagram, nothing lost.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>

#include "wl.h"

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	char buf[16] = "";
	int sk, on = 1, off = 0;

	wl_init(argc, argv);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return wl_fail("socket: %m");
	if (bind(sk, (void *)&a, sizeof(a)) < 0 || getsockname(sk, (void *)&a, &al) < 0 ||
	    connect(sk, (void *)&a, sizeof(a)) < 0 ||
	    setsockopt(sk, IPPROTO_UDP, UDP_CORK, &on, sizeof(on)) < 0 ||
	    send(sk, "cor", 3, 0) != 3 || send(sk, "ked", 3, 0) != 3)
		return wl_fail("bind/connect/cork/send: %m");
	if (recv(sk, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		return wl_fail("the corked datagram went out");
	wl_ready();
	wl_wait_restored();
	if (setsockopt(sk, IPPROTO_UDP, UDP_CORK, &off, sizeof(off)) < 0)
		return wl_fail("uncork: %m");
	if (recv(sk, buf, sizeof(buf), MSG_DONTWAIT) != 6 || memcmp(buf, "corked", 6))
		return wl_fail("the corked datagram is gone: %m");
	return wl_pass();
}
