/*
 * fd_inet - holds a raw inet socket, a kind of inet socket this version
 * cannot checkpoint: the checkpoint must fail naming the fd and leave it
 * running; it still passes when told to go without any restore.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	int sk;

	wl_init(argc, argv);
	sk = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (sk < 0)
		return wl_fail("socket: %m");
	wl_ready();
	wl_wait_restored();
	return wl_pass();
}
