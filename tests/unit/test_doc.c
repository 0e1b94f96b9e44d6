/*
 * tests/unit/test_doc.c - checked accessors and field tables for bundle
 * documents: every rejection names the file and the key path; a table
 * round-trips a struct through JSON; ranges hold for every member width.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "util/doc.h"
#include "util/util.h"

struct sample {
	int32_t pid;
	uint8_t small;
	int16_t neg;
	uint64_t mask;
	bool on;
	const char *comm;
	uint32_t opt;
};

static const struct doc_field sample_fields[] = {
	DOC_INT(struct sample, pid, "pid", 1, DOC_PID_MAX),
	DOC_INT(struct sample, small, "small", 0, UINT8_MAX),
	DOC_INT(struct sample, neg, "neg", INT16_MIN, INT16_MAX),
	DOC_HEX(struct sample, mask, "mask", UINT64_MAX),
	DOC_BOOL(struct sample, on, "on"),
	DOC_STR(struct sample, comm, "comm", 16),
	DOC_OPT_INT(struct sample, opt, "opt", 0, 100),
	DOC_END,
};

static int parse(const char *s, struct json **out)
{
	ckpt_err_t err = {0};

	return json_parse(s, strlen(s), out, &err);
}

/* The document last read: strings of a struct point into it. */
static struct json *last;

/* doc_read of text; the error message (or "") in msg. */
static int read_sample(const char *text, struct sample *st, char *msg)
{
	struct json *j = NULL;
	struct doc_at top = DOC_TOP("task-7.json");
	ckpt_err_t err = {0};
	int ret;

	if (parse(text, &j) < 0) {
		strcpy(msg, "parse");
		return -1;
	}
	json_free(last);
	last = j;
	ret = doc_read(&top, j, sample_fields, st, &err);
	strcpy(msg, ret < 0 ? err.msg : "");
	return ret;
}

int main(void)
{
	struct sample in = {42, 200, -3, 0xfff0000000000001ULL, true, "sleep", 7}, out = {0};
	cleanup_json struct json *w = json_obj(), *j = NULL;
	struct doc_at top = DOC_TOP("files.json");
	ckpt_err_t err = {0};
	cleanup_free char *text = NULL;
	const struct json *arr, *el;
	char msg[CKPT_ERR_MSG_MAX];
	int64_t v;
	size_t n;

	plan(20);

	doc_write(w, sample_fields, &in);
	text = json_dump(w, false, NULL);
	ok(read_sample(text, &out, msg) == 0, "round trip reads back: %s", msg);
	ok(out.pid == 42 && out.small == 200 && out.neg == -3 && out.mask == in.mask && out.on &&
		   !strcmp(out.comm, "sleep") && out.opt == 7,
	   "every member as written");
	like(text, "\"mask\":\"0xfff0000000000001\"", "hex members written as hex strings");

	ok(read_sample("{\"small\":1,\"neg\":0,\"mask\":0,\"on\":true,\"comm\":\"x\"}", &out, msg) <
		   0,
	   "missing pid refused");
	is_str(msg, "task-7.json: pid: missing", "missing names file and key");
	ok(read_sample("{\"pid\":0,\"small\":1,\"neg\":0,\"mask\":0,\"on\":true,\"comm\":\"x\"}",
		       &out, msg) < 0,
	   "pid 0 refused");
	like(msg, "pid: 0 is out of range 1..4194304", "range named");
	ok(read_sample("{\"pid\":1,\"small\":256,\"neg\":0,\"mask\":0,\"on\":true,\"comm\":\"x\"}",
		       &out, msg) < 0,
	   "a byte member refuses 256");
	ok(read_sample(
		   "{\"pid\":1,\"small\":1,\"neg\":-40000,\"mask\":0,\"on\":true,\"comm\":\"x\"}",
		   &out, msg) < 0,
	   "an int16 member refuses -40000");
	ok(read_sample(
		   "{\"pid\":1,\"small\":1,\"neg\":0,\"mask\":\"0xzz\",\"on\":true,\"comm\":\"x\"}",
		   &out, msg) < 0,
	   "a bad hex string refused");
	ok(read_sample("{\"pid\":1,\"small\":1,\"neg\":0,\"mask\":0,\"on\":1,\"comm\":\"x\"}", &out,
		       msg) < 0,
	   "an integer for a bool refused");
	like(msg, "on: expected true or false", "type named");
	ok(read_sample("{\"pid\":1,\"small\":1,\"neg\":0,\"mask\":0,\"on\":true,"
		       "\"comm\":\"01234567890123456\"}",
		       &out, msg) < 0,
	   "a string over its limit refused");
	ok(read_sample("{\"pid\":1,\"small\":1,\"neg\":0,\"mask\":0,\"on\":true,\"comm\":"
		       "\"a\\u0000b\"}",
		       &out, msg) < 0,
	   "a string with a NUL refused");
	out.opt = 99;
	ok(read_sample("{\"pid\":1,\"small\":1,\"neg\":0,\"mask\":0,\"on\":true,\"comm\":\"x\"}",
		       &out, msg) == 0 &&
		   out.opt == 99,
	   "an absent optional member keeps its value");
	ok(read_sample("{\"pid\":1,\"small\":1,\"neg\":0,\"mask\":0,\"on\":true,\"comm\":\"x\","
		       "\"opt\":\"7\"}",
		       &out, msg) < 0,
	   "a present optional member of the wrong type refused");

	ok(parse("{\"fds\":[{\"fd\":3},{\"fd\":-1}]}", &j) == 0, "parse nested");
	ok(doc_arr(&top, j, "fds", 8, &arr, &n, &err) == 0 && n == 2, "array read");
	{
		struct doc_at a = DOC_KEY(&top, "fds");
		struct doc_at e1 = DOC_IDX(&a, 1);

		ok(doc_elem_obj(&a, arr, 1, &el, &err) == 0 &&
			   doc_int(&e1, el, "fd", 0, INT32_MAX, &v, &err) < 0,
		   "fd -1 refused");
		is_str(err.msg, "files.json: fds[1].fd: -1 is out of range 0..2147483647",
		       "the path names the array element");
	}
	json_free(last);
	return done_testing();
}
