/*
 * fd_packet_ring - holds a packet socket with a PACKET_RX_RING mapped,
 * which this version cannot carry: the checkpoint must fail naming the fd
 * and leave it running; it still passes when told to go without any
 * restore, the ring still mapped.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "wl.h"

int main(int argc, char **argv)
{
	struct tpacket_req r = {
		.tp_block_size = 4096, .tp_block_nr = 1, .tp_frame_size = 2048, .tp_frame_nr = 2};
	volatile struct tpacket_hdr *h;
	int sk;

	wl_init(argc, argv);
	/* a protocol nothing sends: the ring stays empty */
	sk = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x88b5));
	if (sk < 0 || setsockopt(sk, SOL_PACKET, PACKET_RX_RING, &r, sizeof(r)) < 0)
		return wl_fail("socket/PACKET_RX_RING: %m");
	h = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, sk, 0);
	if (h == MAP_FAILED)
		return wl_fail("mmap: %m");
	wl_ready();
	wl_wait_restored();
	if (h->tp_status != TP_STATUS_KERNEL)
		return wl_fail("ring frame status %lu", (unsigned long)h->tp_status);
	return wl_pass();
}
