/*
 * fd_inet - holds a TCP listening socket, which this version cannot
 * checkpoint: the checkpoint must fail naming the fd and leave it running;
 * it still passes when told to go without any restore.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int sk;

	wl_init(argc, argv);
	sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk < 0 || bind(sk, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(sk, 1) < 0)
		return wl_fail("socket: %m");
	wl_ready();
	wl_wait_restored();
	return wl_pass();
}
