/*
 * ns_net_addr - the network namespace seen from inside is the same after
 * restore: every interface with its flags, MTU, MAC and addresses, the
 * IPv4 and IPv6 routes, and two sysctls the test changed.
 */
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

static void cat(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	char buf[4096];
	size_t n;

	if (!f)
		return;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		*out = realloc(*out, *len + n + 1);
		memcpy(*out + *len, buf, n);
		*len += n;
		(*out)[*len] = '\0';
	}
	fclose(f);
}

static void add(char **out, size_t *len, const char *s)
{
	size_t n = strlen(s);

	*out = realloc(*out, *len + n + 1);
	memcpy(*out + *len, s, n + 1);
	*len += n;
}

/* Addresses come sorted by the kernel per interface; link-local v6 is left out. */
static char *snapshot(void)
{
	struct ifaddrs *ifa, *i;
	char *s = NULL, line[256], ip[INET6_ADDRSTRLEN];
	size_t len = 0;
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (getifaddrs(&ifa) < 0)
		return NULL;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_PACKET) {
			struct sockaddr_ll *ll = (void *)i->ifa_addr;
			struct ifreq r = {0};

			snprintf(r.ifr_name, sizeof(r.ifr_name), "%s", i->ifa_name);
			ioctl(sk, SIOCGIFMTU, &r);
			snprintf(line, sizeof(line), "%s flags %x mtu %d mac", i->ifa_name,
				 i->ifa_flags & (IFF_UP | IFF_LOOPBACK), r.ifr_mtu);
			add(&s, &len, line);
			for (int k = 0; k < ll->sll_halen; k++) {
				snprintf(line, sizeof(line), ":%02x", ll->sll_addr[k]);
				add(&s, &len, line);
			}
		} else if (i->ifa_addr->sa_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip,
				  sizeof(ip));
			snprintf(line, sizeof(line), "%s inet %s", i->ifa_name, ip);
			add(&s, &len, line);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			struct in6_addr *a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

			if (IN6_IS_ADDR_LINKLOCAL(a))
				continue;
			inet_ntop(AF_INET6, a, ip, sizeof(ip));
			snprintf(line, sizeof(line), "%s inet6 %s", i->ifa_name, ip);
			add(&s, &len, line);
		}
		add(&s, &len, "\n");
	}
	freeifaddrs(ifa);
	close(sk);
	cat("/proc/self/net/route", &s, &len);
	cat("/proc/sys/net/ipv4/ip_forward", &s, &len);
	cat("/proc/sys/net/ipv4/tcp_keepalive_time", &s, &len);
	return s;
}

int main(int argc, char **argv)
{
	char *before, *after;

	wl_init(argc, argv);
	before = snapshot();
	if (!before || !strstr(before, "eth0 inet 10.201.0.1") || !strstr(before, "fd01::1"))
		return wl_fail("the test did not set the namespace up:\n%s", before ?: "");
	wl_ready();
	wl_wait_restored();
	after = snapshot();
	if (!after || strcmp(before, after))
		return wl_fail("namespace differs\n--- before\n%s--- after\n%s", before,
			       after ?: "");
	return wl_pass();
}
