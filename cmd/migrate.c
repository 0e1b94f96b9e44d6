/*
 * cmd/migrate.c - `ckpt-oci migrate CONTAINER|--pid PID --to HOST:PORT
 * [--lazy] [--pre-copy N]`: move a container (oci/checkpoint.c) or a
 * process tree to the node where `ckpt-oci receive` listens. On a
 * terminal, one progress line on stderr; --json, a summary on stdout.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "cmd/cmd.h"
#include "oci/oci.h"

#define MIG_PRE_MAX 16 /* --pre-copy at most */

static void migrate_usage(FILE *f)
{
	fprintf(f,
		"usage: ckpt-oci migrate [--runtime runc|crun] [--root DIR] CONTAINER\n"
		"                        --to HOST:PORT [OPTIONS]\n"
		"       ckpt-oci migrate --pid PID --to HOST:PORT [OPTIONS]\n\n"
		"Checkpoint the container (or the tree of PID), stream it to `ckpt-oci\n"
		"receive` at HOST:PORT, which restores it; here it is killed (a container\n"
		"removed from its runtime) only once it runs there, and resumes if\n"
		"anything fails before.\n\n"
		"      --runtime NAME    the container's runtime: runc or crun (default:\n"
		"                        runc, or crun when only crun knows the container)\n"
		"      --root DIR        the runtime's state root (default /run/runc, /run/crun)\n"
		"  -p, --pid PID         root of the tree (instead of a CONTAINER)\n"
		"  -t, --to HOST:PORT    the receiver\n"
		"      --lazy            restore there before the pages are: they are served\n"
		"                        from here (a page server) until all are there\n"
		"      --pre-copy N      first up to N pre-dump rounds (1-16), the tree\n"
		"                        running, each sent at once; the tree then stops\n"
		"                        only for the pages written since the last\n"
		"      --live-timeout SECS  lazy: once it runs there, give up on the\n"
		"                        receiver when it asks for no page that long\n"
		"                        (default 30); the tree is then left stopped\n"
		"                        here, for `ckpt-oci recover --resume|--kill`\n"
		"  -w, --work-dir DIR    where this node's bundle and dump.log go\n"
		"                        (default: /var/tmp)\n"
		"      --keep-bundle     leave this node's bundle behind\n"
		"  -k, --key FILE        the key both nodes hold (default: " BUNDLE_HOST_KEY ")\n"
		"      --json            print a summary when done: rounds (pages, bytes),\n"
		"                        bytes_sent, downtime_ms, total_ms, frozen_ms,\n"
		"                        root_pid, pre_rounds\n"
		"  -v, --verbose         progress on stderr\n"
		"On a terminal, stderr shows one line of progress: round, bytes, rate.\n");
}

/* The progress line: on a terminal only, at most ten times a second. */
static uint64_t arg_t0, arg_last;
static bool arg_shown;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void migrate_progress(const struct ckpt_migrate_opts *o)
{
	uint64_t now = mono_ns();
	double secs = (now - arg_t0) / 1e9;

	if (now - arg_last < 100000000 && arg_shown)
		return;
	arg_last = now;
	arg_shown = true;
	fprintf(stderr, "\rmigrate: round %d, %.1f MiB sent, %.1f MiB/s   ", o->nrounds + 1,
		o->bytes_sent / 1048576.0, secs > 0 ? o->bytes_sent / 1048576.0 / secs : 0.0);
	fflush(stderr);
}

static void migrate_json(const struct ckpt_migrate_opts *o)
{
	printf("{\"rounds\": [");
	for (int i = 0; i < o->nrounds; i++)
		printf("%s{\"pages\": %llu, \"bytes\": %llu}", i ? ", " : "",
		       (unsigned long long)o->rounds[i].pages,
		       (unsigned long long)o->rounds[i].bytes);
	printf("], \"bytes_sent\": %llu, \"downtime_ms\": %.3f, \"total_ms\": %.3f, "
	       "\"frozen_ms\": %.3f, \"root_pid\": %d, \"pre_rounds\": %d}\n",
	       (unsigned long long)o->bytes_sent, o->downtime_ns / 1e6, o->total_ns / 1e6,
	       o->frozen_ns / 1e6, o->root_pid, o->pre_rounds);
}

struct migrate_job {
	struct oci_migrate_opts oci; /* oci.id NULL: the tree of oci.migrate.pid */
	bool json;
};

/*
 * In the worker (cmd/worker.c): a signal to migrate is an abort request
 * answered by the checkpoint's rollback, never a tree (or a container's
 * cgroup) left frozen. The worker prints the summary: its memory is its own.
 */
static int migrate_work(void *arg, ckpt_err_t *err)
{
	struct migrate_job *j = arg;
	struct ckpt_migrate_opts *o = &j->oci.migrate;
	int ret;

	ret = j->oci.id ? oci_migrate(&j->oci, err) : ckpt_migrate(o, err);
	if (arg_shown)
		fprintf(stderr, "\rmigrate: %d rounds, %.1f MiB sent in %.3f s            \n",
			o->nrounds, o->bytes_sent / 1048576.0, (mono_ns() - arg_t0) / 1e9);
	if (ret == 0 && j->json)
		migrate_json(o);
	fflush(stdout); /* the worker leaves with _exit */
	fflush(stderr);
	return ret;
}

static const struct option migrate_longopts[] = {
	{"pid", required_argument, NULL, 'p'},
	{"to", required_argument, NULL, 't'},
	{"lazy", no_argument, NULL, 'L'},
	{"work-dir", required_argument, NULL, 'w'},
	{"keep-bundle", no_argument, NULL, 'B'},
	{"key", required_argument, NULL, 'k'},
	{"json", no_argument, NULL, 'j'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"pre-copy", required_argument, NULL, 'P'},
	{"runtime", required_argument, NULL, 'r'},
	{"root", required_argument, NULL, 'D'},
	{"live-timeout", required_argument, NULL, 'T'},
	{0},
};

/* One option into oci (its migrate options among them): -1 to go on, else the exit status. */
static int migrate_opt(int c, struct oci_migrate_opts *oci, bool *json)
{
	struct ckpt_migrate_opts *o = &oci->migrate;

	switch (c) {
	case 'p':
		o->pid = atoi(optarg);
		break;
	case 't':
		o->to = optarg;
		break;
	case 'L':
		o->lazy = true;
		break;
	case 'P':
		o->pre_copy = atoi(optarg);
		if (o->pre_copy < 1 || o->pre_copy > MIG_PRE_MAX) {
			fprintf(stderr, "migrate: --pre-copy: %s is not in 1..%d\n", optarg,
				MIG_PRE_MAX);
			return 2;
		}
		break;
	case 'T': {
		char *end;
		double secs = strtod(optarg, &end);

		if (*end || end == optarg || !(secs >= 0.1 && secs <= 3600)) {
			fprintf(stderr, "migrate: --live-timeout: %s is not in 0.1..3600 seconds\n",
				optarg);
			return 2;
		}
		o->live_timeout_ms = (int)(secs * 1000);
		break;
	}
	case 'w':
		o->work_dir = optarg;
		break;
	case 'B':
		o->keep_bundle = true;
		break;
	case 'k':
		o->key_file = optarg;
		break;
	case 'j':
		*json = true;
		break;
	case 'v':
		o->verbose = true;
		break;
	case 'r':
		oci->runtime = optarg;
		break;
	case 'D':
		oci->root = optarg;
		break;
	case 'h':
		migrate_usage(stdout);
		return 0;
	default:
		migrate_usage(stderr);
		return 2;
	}
	return -1;
}

int cmd_migrate(int argc, char **argv)
{
	struct migrate_job job = {0};
	struct oci_migrate_opts *oci = &job.oci;
	struct ckpt_migrate_opts *o = &oci->migrate;
	int c, ret;

	while ((c = getopt_long(argc, argv, "p:t:w:k:vh", migrate_longopts, NULL)) != -1) {
		ret = migrate_opt(c, oci, &job.json);
		if (ret >= 0)
			return ret;
	}
	if (optind < argc - 1 || !o->to || (optind == argc) == (o->pid <= 0)) {
		migrate_usage(stderr);
		return 2;
	}
	if (optind == argc && (oci->runtime || oci->root))
		return cmd_fail("migrate", "--runtime and --root need a CONTAINER");
	/* a receiver that goes away is an error to report, the tree resumed */
	signal(SIGPIPE, SIG_IGN);
	if (isatty(STDERR_FILENO) && !o->verbose) {
		arg_t0 = mono_ns();
		o->progress = migrate_progress;
	}
	if (optind < argc)
		oci->id = argv[optind];
	return cmd_worker("migrate", migrate_work, &job);
}
