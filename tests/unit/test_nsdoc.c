/*
 * tests/unit/test_nsdoc.c - the namespace documents read through their
 * typed parsers (ipc-doc.c, net-doc.c, cgroup-doc.c): a sane document
 * comes back as structs, and each damaged one is refused in one line
 * naming the file and the key path, before restore would make anything.
 */
#include <errno.h>
#include <string.h>

#include "tap.h"
#include "namespaces/cgroup-doc.c"
#include "namespaces/cgroup-restore.c"
#include "namespaces/cgroup.c"
#include "namespaces/ipc-doc.c"
#include "namespaces/net-doc.c"

/* What cgroup-restore.c makes is journaled; nothing is made here. */
int journal_add(const char *kind, const char *fmt, ...)
{
	return 0;
}

void journal_done_match(const char *kind, const char *arg)
{
}

/* cgroup.c's dump asks inside a namespace; never called here. */
int ns_exec_json(int nsfd, int nstype, struct json *(*fn)(void *arg, ckpt_err_t *err), void *arg,
		 struct json **out, ckpt_err_t *err)
{
	return ckpt_error_msg(err, ENOSYS, "not in a unit test");
}

static struct json *parse(const char *s)
{
	ckpt_err_t err = {0};
	struct json *j = NULL;

	if (json_parse(s, strlen(s), &j, &err) < 0)
		printf("# bad test document: %s\n", err.msg);
	return j;
}

static const char ipc_good[] =
	"{\"sysctls\": {\"kernel/msgmnb\": \"16384\"},"
	" \"shm\": [{\"id\": 0, \"key\": -1, \"mode\": 438, \"uid\": 0, \"gid\": 0,"
	"           \"size\": 4096, \"offset\": 0}],"
	" \"sem\": [{\"id\": 3, \"key\": 42, \"mode\": 384, \"uid\": 0, \"gid\": 0,"
	"           \"values\": [1, 2, 3]}],"
	" \"msg\": [{\"id\": 1, \"key\": 7, \"mode\": 384, \"uid\": 0, \"gid\": 0,"
	"           \"qbytes\": 16384, \"messages\": [{\"type\": 5, \"data\": \"6869\"}]}],"
	" \"mqueue\": [{\"name\": \"q\", \"mode\": 384, \"uid\": 0, \"gid\": 0,"
	"              \"maxmsg\": 10, \"msgsize\": 64,"
	"              \"messages\": [{\"prio\": 3, \"data\": \"00ff\"}]}]}";

static void test_ipc_good(void)
{
	cleanup_json struct json *j = parse(ipc_good);
	ckpt_err_t err = {0};
	struct ipc_doc d;

	is_int(ipc_doc_read(j, &d, &err), 0, "ipc.json: a sane document parses");
	is_int(d.nsys, 1, "one sysctl");
	is_str(d.sys_name[0], "kernel/msgmnb", "its name");
	is_int(d.nshm, 1, "one segment");
	is_int(d.shm[0].key, -1, "IPC_PRIVATE key kept");
	is_int(d.shm[0].size, 4096, "segment size");
	is_int(d.nsem, 1, "one semaphore set");
	is_int(d.sem[0].n, 3, "three values");
	is_int(d.sem[0].vals[2], 3, "values in order");
	is_int(d.nmsg, 1, "one queue");
	is_int(d.msg[0].msgs[0].type, 5, "message type");
	is_int(d.msg[0].msgs[0].len, 2, "message bytes decoded");
	ok(!memcmp(d.msg[0].msgs[0].data, "hi", 2), "message content");
	is_int(d.nmq, 1, "one POSIX queue");
	is_int(d.mq[0].msgs[0].len, 2, "POSIX message decoded");
	is_int((unsigned char)d.mq[0].msgs[0].data[1], 0xff, "POSIX message content");
	ipc_doc_free(&d);
}

/* doc refused with exactly msg (and EPROTO). */
static void refused(int (*read)(const struct json *, void *, ckpt_err_t *), const char *doc,
		    const char *msg)
{
	cleanup_json struct json *j = parse(doc);
	ckpt_err_t err = {0};
	long st[64];

	ok(j != NULL, "test document parses as JSON");
	is_int(read(j, st, &err), -EPROTO, "refused: %s", msg);
	is_str(err.msg, msg, "the error names the file and the key");
	ckpt_error_clear(&err);
}

static int ipc_read(const struct json *j, void *st, ckpt_err_t *err)
{
	return ipc_doc_read(j, st, err);
}

static int net_read(const struct json *j, void *st, ckpt_err_t *err)
{
	return net_doc_read(j, st, err);
}

static void test_ipc_bad(void)
{
	refused(ipc_read,
		"{\"sem\": [{\"id\": 3, \"key\": 1, \"mode\": 0, \"uid\": 0, \"gid\": 0,"
		" \"values\": [1, 70000]}]}",
		"ipc.json: sem[0].values[1]: 70000 is out of range 0..32767");
	refused(ipc_read,
		"{\"sem\": [{\"id\": 3, \"key\": 1, \"mode\": 0, \"uid\": 0, \"gid\": 0,"
		" \"values\": []}]}",
		"ipc.json: sem[0].values: a semaphore set has at least one value");
	refused(ipc_read,
		"{\"shm\": [{\"id\": -4, \"key\": 1, \"mode\": 0, \"uid\": 0, \"gid\": 0,"
		" \"size\": 1, \"offset\": 0}]}",
		"ipc.json: shm[0].id: -4 is out of range 0..2147483647");
	refused(ipc_read,
		"{\"shm\": [{\"id\": 1, \"key\": 1, \"mode\": 0, \"uid\": 0, \"gid\": 0,"
		" \"size\": 1}]}",
		"ipc.json: shm[0].offset: missing");
	refused(ipc_read, "{\"sysctls\": {\"kernel/core_pattern\": \"|/x\"}}",
		"ipc.json: sysctls: unknown sysctl `kernel/core_pattern`");
	refused(ipc_read,
		"{\"msg\": [{\"id\": 1, \"key\": 1, \"mode\": 0, \"uid\": 0, \"gid\": 0,"
		" \"qbytes\": 10, \"messages\": [{\"type\": 0, \"data\": \"\"}]}]}",
		"ipc.json: msg[0].messages[0].type: 0 is out of range 1..9223372036854775807");
	refused(ipc_read,
		"{\"msg\": [{\"id\": 1, \"key\": 1, \"mode\": 0, \"uid\": 0, \"gid\": 0,"
		" \"qbytes\": 10, \"messages\": [{\"type\": 1, \"data\": \"abc\"}]}]}",
		"ipc.json: msg[0].messages[0].data: odd number of hex digits");
	refused(ipc_read,
		"{\"mqueue\": [{\"name\": \"../x\", \"mode\": 0, \"uid\": 0, \"gid\": 0,"
		" \"maxmsg\": 1, \"msgsize\": 1}]}",
		"ipc.json: mqueue[0]: bad queue name `../x`");
	refused(ipc_read,
		"{\"mqueue\": [{\"name\": \"q\", \"mode\": 0, \"uid\": 0, \"gid\": 0,"
		" \"maxmsg\": 1, \"msgsize\": 1, \"messages\": [{\"prio\": 0, \"data\":"
		" \"00\"}, {\"prio\": 0, \"data\": \"00\"}]}]}",
		"ipc.json: mqueue[0]: 2 messages in a queue of 1");
}

static const char net_good[] =
	"{\"links\": [{\"index\": 1, \"name\": \"lo\", \"kind\": \"loopback\", \"up\": true,"
	"             \"mtu\": 65536},"
	"            {\"index\": 2, \"name\": \"eth0\", \"kind\": \"veth\", \"up\": true,"
	"             \"mtu\": 1500, \"mac\": \"02aabbccddee\", \"link\": 5, \"link_nsid\": 0,"
	"             \"peer\": {\"netns\": null, \"name\": \"h-eth0\", \"up\": true,"
	"                      \"addrs\": [{\"index\": 5, \"family\": 2, \"prefixlen\": 24,"
	"                                 \"addr\": \"10.0.0.1\"}]}}],"
	" \"addrs\": [{\"index\": 2, \"family\": 10, \"prefixlen\": 64, \"addr\": \"fd01::2\"}],"
	" \"routes\": [{\"family\": 2, \"dst_len\": 0, \"scope\": 0, \"protocol\": 3,"
	"              \"gw\": \"10.0.0.1\", \"index\": 2}],"
	" \"sysctl\": {\"ipv4/ip_forward\": \"1\"}, \"nft\": \"table inet t {}\"}";

static void test_net_good(void)
{
	cleanup_json struct json *j = parse(net_good);
	ckpt_err_t err = {0};
	struct net_doc d;

	is_int(net_doc_read(j, &d, &err), 0, "net.json: a sane document parses");
	is_int(d.nlinks, 2, "two links");
	is_str(d.links[1].name, "eth0", "veth name");
	ok(d.links[1].peer && !d.links[1].peer->netns, "host end in ckpt-oci's namespace");
	is_str(d.links[1].peer->name, "h-eth0", "host end name");
	is_int(d.links[1].peer->naddrs, 1, "host end address");
	is_int(d.links[0].link_nsid, -1, "no nsid: -1");
	is_int(d.routes[0].priority, -1, "no metric: -1");
	is_str(d.routes[0].gw, "10.0.0.1", "gateway");
	is_int(d.nsys, 1, "one sysctl");
	is_str(d.nft, "table inet t {}", "ruleset");
	net_doc_free(&d);
}

static void test_net_bad(void)
{
	refused(net_read,
		"{\"links\": [{\"index\": 1, \"name\": \"lo\", \"kind\": \"loopback\","
		" \"up\": true, \"mtu\": -5}]}",
		"net.json: links[0].mtu: -5 is out of range 0..262144");
	refused(net_read,
		"{\"links\": [{\"index\": 1, \"name\": \"a-name-far-too-long\","
		" \"kind\": \"veth\", \"up\": true}]}",
		"net.json: links[0].name: string of 19 bytes, at most 15 allowed");
	refused(net_read,
		"{\"links\": [{\"index\": 1, \"name\": \"x\", \"kind\": \"bridge\","
		" \"up\": true}]}",
		"net.json: links[0]: kind `bridge` is not loopback or veth");
	refused(net_read,
		"{\"addrs\": [{\"index\": 1, \"family\": 2, \"prefixlen\": 64,"
		" \"addr\": \"10.0.0.1\"}]}",
		"net.json: addrs[0]: prefix length 64 too long for the family");
	refused(net_read,
		"{\"addrs\": [{\"index\": 1, \"family\": 10, \"prefixlen\": 64,"
		" \"addr\": \"10.0.0.1\"}]}",
		"net.json: addrs[0]: `10.0.0.1` is not an address of family 10");
	refused(net_read,
		"{\"routes\": [{\"family\": 2, \"dst_len\": 0, \"scope\": 300,"
		" \"protocol\": 3}]}",
		"net.json: routes[0].scope: 300 is out of range 0..255");
	refused(net_read, "{\"sysctl\": {\"../../kernel/core_pattern\": \"|/x\"}}",
		"net.json: sysctl: `../../kernel/core_pattern` is not a sysctl below net");
	refused(net_read,
		"{\"links\": [{\"index\": 2, \"name\": \"eth0\", \"kind\": \"veth\","
		" \"up\": true, \"peer\": {\"netns\": \"../x\"}}]}",
		"net.json: links[0].peer: netns `../x` is not a name in /run/netns");
}

static const char cg_good[] =
	"{\"tree_cgroup\": false,"
	" \"cgroups\": [{\"controllers\": \"pids\", \"path\": \"/a\","
	"               \"limits\": {\"pids.max\": \"50\"}},"
	"              {\"controllers\": \"\", \"path\": \"/t/q\", \"type\": \"threaded\"}],"
	" \"threads\": [{\"pid\": 1, \"tid\": 1, \"cgroups\": [0, 1]},"
	"             {\"pid\": 1, \"tid\": 2, \"cgroups\": [1]}]}";

static void test_cg_good(void)
{
	cleanup_json struct json *j = parse(cg_good);
	ckpt_err_t err = {0};
	struct cg_doc d;

	is_int(cg_doc_read(j, &d, &err), 0, "cgroup.json: a sane document parses");
	is_int(d.ncgroups, 2, "two cgroups");
	is_str(d.cgroups[0].lim_file[0], "pids.max", "its limit");
	is_str(d.cgroups[0].lim_val[0], "50", "its value");
	is_str(d.cgroups[1].type, "threaded", "v2 type");
	is_int(d.nthreads, 2, "two threads");
	is_int(d.threads[1].tid, 2, "thread id");
	is_int(d.threads[0].cg[1], 1, "cgroups by index");
	cg_doc_free(&d);
}

static int cg_read(const struct json *j, void *st, ckpt_err_t *err)
{
	return cg_doc_read(j, st, err);
}

static void test_cg_bad(void)
{
	refused(cg_read, "{\"cgroups\": [{\"controllers\": \"pids\", \"path\": \"/a/../../etc\"}]}",
		"cgroup.json: cgroups[0]: path `/a/../../etc` is not absolute or leaves the "
		"hierarchy");
	refused(cg_read, "{\"cgroups\": [{\"controllers\": \"pids/x\", \"path\": \"/a\"}]}",
		"cgroup.json: cgroups[0]: controllers `pids/x` hold a slash");
	refused(cg_read,
		"{\"cgroups\": [{\"controllers\": \"pids\", \"path\": \"/a\","
		" \"limits\": {\"release_agent\": \"/x\"}}]}",
		"cgroup.json: cgroups[0].limits: unknown limit `release_agent`");
	refused(cg_read,
		"{\"cgroups\": [{\"controllers\": \"\", \"path\": \"/a\","
		" \"type\": \"weird\"}]}",
		"cgroup.json: cgroups[0]: unknown type `weird`");
	refused(cg_read,
		"{\"cgroups\": [{\"controllers\": \"pids\", \"path\": \"/a\"}],"
		" \"threads\": [{\"pid\": 1, \"tid\": 1, \"cgroups\": [1]}]}",
		"cgroup.json: threads[0].cgroups[0]: 1 is out of range 0..0");
	refused(cg_read, "{\"threads\": [{\"pid\": 0, \"tid\": 1, \"cgroups\": []}]}",
		"cgroup.json: threads[0].pid: 0 is out of range 1..4194304");
}

int main(void)
{
	test_cg_good();
	test_cg_bad();
	test_ipc_good();
	test_ipc_bad();
	test_net_good();
	test_net_bad();
	return done_testing();
}
