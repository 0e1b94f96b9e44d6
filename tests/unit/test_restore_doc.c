/*
 * tests/unit/test_restore_doc.c - the typed readers of pstree.json and of a
 * task's memory documents (vmas, mm, pagemap): a valid tree and address
 * space read back; each crafted one (a thread with the tid of another
 * process, a ppid loop, a root not in the task list, a pid used twice,
 * overlapping VMAs, a VMA past the user address range, page runs past the
 * image or outside private memory, shared-object runs past the object) is
 * refused in one line naming the file and the key.
 *
 * The readers are included, not linked (as test_vdso does): the unit tests
 * link a fixed list of objects.
 */
#include "../../libckpt/dump/pstree-doc.c"
#include "../../libckpt/mem/mem-doc.c"
#include "../../libckpt/mem/vdso.c"

#include "tap.h"

static char msg[CKPT_ERR_MSG_MAX + 16];

static int tree(const char *text)
{
	struct json *j = NULL;
	struct pstree p;
	ckpt_err_t err = {0};
	int ret;

	if (json_parse(text, strlen(text), &j, &err) < 0) {
		snprintf(msg, sizeof(msg), "parse: %s", err.msg);
		return -1;
	}
	ret = pstree_read(j, &p, &err);
	snprintf(msg, sizeof(msg), "%s", ret < 0 ? err.msg : "");
	pstree_free(&p);
	json_free(j);
	return ret;
}

#define TASK(pid, ppid, thr)                                                                       \
	"{\"pid\":" #pid ",\"ppid\":" #ppid                                                        \
	",\"pgid\":1,\"sid\":1,\"state\":\"S\",\"threads\":" thr "}"

static void test_pstree(void)
{
	is_int(tree("{\"root\":1,\"own_pidns\":true,\"tasks\":[" TASK(1, 0, "[1,4]") "," TASK(
		       2, 1, "[2]") "," TASK(3, 2, "[3]") "]}"),
	       0, "a valid tree reads: %s", msg);
	is_int(tree("{\"root\":1,\"own_pidns\":true,\"tasks\":[" TASK(1, 0, "[1]") "," TASK(
		       2, 1, "[2,1]") "]}"),
	       -EPROTO, "a thread with tid 1 of another process: refused");
	ok(strstr(msg, "pstree.json: tasks[1]: id 1 is used twice") != NULL, "... %s", msg);
	is_int(tree("{\"root\":1,\"own_pidns\":true,\"tasks\":[" TASK(1, 0, "[1]") "," TASK(
		       2, 3, "[2]") "," TASK(3, 2, "[3]") "]}"),
	       -EPROTO, "a ppid loop: refused");
	ok(strstr(msg, "pstree.json: tasks[1].ppid: 3 is not a task before this one") != NULL,
	   "... %s", msg);
	is_int(tree("{\"root\":9,\"own_pidns\":true,\"tasks\":[" TASK(1, 0, "[1]") "]}"), -EPROTO,
	       "a root not in the task list: refused");
	ok(strstr(msg, "pstree.json: root: 9 is not the first task") != NULL, "... %s", msg);
	is_int(tree("{\"root\":1,\"own_pidns\":true,\"tasks\":[" TASK(1, 0, "[1]") "," TASK(
		       1, 1, "[1]") "]}"),
	       -EPROTO, "a duplicated task: refused");
	is_int(tree("{\"root\":1,\"own_pidns\":true,\"tasks\":[" TASK(1, 0, "[1]") "," TASK(
		       -2, 1, "[2]") "]}"),
	       -EPROTO, "a negative pid: refused");
	ok(strstr(msg, "pstree.json: tasks[1].pid: -2 is out of range") != NULL, "... %s", msg);
	is_int(tree("{\"root\":1,\"own_pidns\":true,\"tasks\":[" TASK(1, 0, "[5]") "]}"), -EPROTO,
	       "a leader whose tid is not its pid: refused");
	is_int(tree("{\"root\":1,\"own_pidns\":true,\"tasks\":[]}"), -EPROTO, "no tasks: refused");
}

#define MM                                                                                         \
	"\"exe\":\"/bin/sh\",\"mm\":{\"start_code\":\"0x1000\",\"end_code\":\"0x2000\","           \
	"\"start_data\":\"0x2000\",\"end_data\":\"0x3000\",\"start_brk\":\"0x3000\","              \
	"\"brk\":\"0x3000\",\"start_stack\":\"0x7ff000\",\"arg_start\":\"0x7ff000\","              \
	"\"arg_end\":\"0x7ff010\",\"env_start\":\"0x7ff010\",\"env_end\":\"0x7ff020\","            \
	"\"auxv\":\"0600000000000000\"}"
#define VMA(s, e, prot, shared, kind, path)                                                        \
	"{\"start\":\"" s "\",\"end\":\"" e "\",\"prot\":\"" prot "\",\"shared\":" shared          \
	",\"kind\":\"" kind "\",\"pgoff\":\"0x0\",\"path\":\"" path "\",\"vmflags\":\"rd wr\""
#define ANON(s, e)  VMA(s, e, "rw-", "false", "anon", "") "}"
#define SHMEM(s, e) VMA(s, e, "rw-", "true", "shmem", "/dev/zero (deleted)")

static const char *extra = ""; /* more members of the task document */

static int mem(const char *vmas, const char *pagemap, uint64_t img_size)
{
	struct json *task = NULL, *pm = NULL;
	struct doc_at at = DOC_TOP("task-7.json"), pat = DOC_TOP("pagemap-7.json");
	cleanup_free char *text = xasprintf("{\"vmas\":[%s],%s" MM "}", vmas, extra);
	struct mem_task m;
	ckpt_err_t err = {0};
	int ret;

	if (json_parse(text, strlen(text), &task, &err) < 0 ||
	    json_parse(pagemap, strlen(pagemap), &pm, &err) < 0) {
		snprintf(msg, sizeof(msg), "parse: %s", err.msg);
		json_free(task);
		return -1;
	}
	ret = mem_doc_read(&at, task, &pat, pm, img_size, &m, &err);
	snprintf(msg, sizeof(msg), "%s", ret < 0 ? err.msg : "");
	if (ret == 0 && (m.nvmas != 2 || m.nruns != 1 || m.mm.auxv_len != 8 || m.mm.brk != 0x3000))
		snprintf(msg, sizeof(msg), "read wrong: %zu vmas %zu runs", m.nvmas, m.nruns);
	mem_doc_free(&m);
	json_free(task);
	json_free(pm);
	return ret;
}

static void test_mem(void)
{
	const char *two = ANON("0x10000", "0x20000") "," ANON("0x20000", "0x30000");

	is_int(mem(two, "[[\"0x1f000\",2,0]]", 2 * 4096), 0, "a valid address space reads: %s",
	       msg);
	ok(!msg[0], "... with its VMAs, run and mm: %s", msg);
	is_int(mem(ANON("0x10000", "0x20000") "," ANON("0x1f000", "0x30000"), "[]", 0), -EPROTO,
	       "overlapping VMAs: refused");
	ok(strstr(msg, "task-7.json: vmas[1]: 0x1f000-0x30000 overlaps") != NULL, "... %s", msg);
	is_int(mem(ANON("0x10000", "0x20000") "," ANON("0x7ffffffff000", "0x800000000000"), "[]",
		   0),
	       -EPROTO, "a VMA outside the user address range: refused");
	ok(strstr(msg, "task-7.json: vmas[1].end: 0x800000000000 is out of range") != NULL,
	   "... %s", msg);
	is_int(mem(ANON("0x10800", "0x20000"), "[]", 0), -EPROTO, "an unaligned VMA: refused");
	is_int(mem(two, "[[\"0x1f000\",2,5]]", 4 * 4096), -EPROTO,
	       "a pagemap run beyond the image size: refused");
	ok(strstr(msg, "pagemap-7.json: [0]: pages 5..7 are past the end of the image (4 pages)") !=
		   NULL,
	   "... %s", msg);
	is_int(mem(two, "[[\"0x1f000\",-2,0]]", 4 * 4096), -EPROTO, "a negative run: refused");
	is_int(mem(two, "[[\"0x2f000\",2,0]]", 4 * 4096), -EPROTO,
	       "a run past the last VMA: refused");
	ok(strstr(msg, "pagemap-7.json: [0]: page 0x30000 is not in a private VMA") != NULL,
	   "... %s", msg);
	is_int(mem(ANON("0x10000", "0x20000") "," SHMEM("0x20000", "0x30000") ",\"shmid\":5,"
									      "\"shm_size\":65536}",
		   "[[\"0x20000\",1,0]]", 4 * 4096),
	       -EPROTO, "private pages written into shared memory: refused");
	is_int(mem(ANON("0x10000", "0x20000") "," SHMEM(
			   "0x20000",
			   "0x30000") ",\"shmid\":5,"
				      "\"shm_size\":65536,\"shm_runs\":[[61440,8192,0]]}",
		   "[[\"0x10000\",1,0]]", 4 * 4096),
	       -EPROTO, "a shared-object run past the object: refused");
	ok(strstr(msg, "task-7.json: vmas[1].shm_runs[0][1]: 8192 is out of range 1..4096") != NULL,
	   "... %s", msg);
	is_int(mem(ANON("0x10000", "0x20000") "," SHMEM("0x20000", "0x30000") ",\"shmid\":5,"
									      "\"shm_size\":-1}",
		   "[[\"0x10000\",1,0]]", 4 * 4096),
	       -EPROTO, "a negative object size: refused");
	is_int(mem(ANON("0x10000", "0x20000") "," SHMEM("0x20000", "0x30000") "}",
		   "[[\"0x10000\",1,0]]", 4 * 4096),
	       -EPROTO, "a shared mapping without its object: refused");
	extra = "\"inherited\":[[\"0x10000\",4]],";
	is_int(mem(two, "[[\"0x1f000\",2,0]]", 2 * 4096), 0, "pages shared with the parent: %s",
	       msg);
	extra = "\"inherited\":[[\"0x2e000\",4]],";
	is_int(mem(two, "[[\"0x1f000\",2,0]]", 2 * 4096), -EPROTO,
	       "shared pages outside the task's memory: refused");
	ok(strstr(msg, "task-7.json: inherited[0]: page 0x30000 is not in a private VMA") != NULL,
	   "... %s", msg);
	extra = "";
}

int main(void)
{
	plan(32);
	test_pstree();
	test_mem();
	return done_testing();
}
