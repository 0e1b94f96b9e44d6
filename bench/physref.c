/*
 * bench/physref.c - the physical reference: what moving a process's memory
 * costs with no checkpoint tool around it.
 *
 *     physref PID FILE
 *
 * Dump side: process_vm_readv() every private writable anonymous mapping
 * of PID (heap included) into a buffer and write() it to FILE, then
 * fsync(). Restore side: read FILE back into fresh anonymous memory,
 * populated first with MADV_POPULATE_WRITE (one fault per page costs ~12 us
 * in these VMs; populating in one call is the cheapest way known to get
 * fresh memory, so it is the honest lower bound). Prints one line:
 *     bytes N read_s R write_s W fsync_s S restore_s T
 * The target keeps running; it is not stopped (a reference for throughput,
 * not a consistent image).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (8UL << 20)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies one mapping in CHUNK pieces; adds to the read and write clocks. */
static int copy_range(pid_t pid, unsigned long start, unsigned long end, int fd, char *buf,
		      double *rd, double *wr, unsigned long long *bytes)
{
	for (unsigned long a = start; a < end; a += CHUNK) {
		size_t len = end - a < CHUNK ? end - a : CHUNK;
		struct iovec l = {buf, len}, r = {(void *)a, len};
		double t0 = now(), t1;
		ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);

		t1 = now();
		*rd += t1 - t0;
		if (n < 0)
			return -1;
		if (write_all(fd, buf, (size_t)n) < 0)
			return -1;
		*wr += now() - t1;
		*bytes += (unsigned long long)n;
	}
	return 0;
}

static int restore_side(const char *file, unsigned long long bytes, double *secs)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	double t0 = now();
	char *mem;
	size_t off = 0;

	if (fd < 0)
		return -1;
	mem = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	if (mem == MAP_FAILED)
		return -1;
	(void)madvise(mem, bytes, MADV_POPULATE_WRITE); /* older kernels: fault as we go */
	while (off < bytes) {
		ssize_t n = read(fd, mem + off, bytes - off < CHUNK ? bytes - off : CHUNK);

		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	*secs = now() - t0;
	close(fd);
	munmap(mem, bytes ? bytes : 1);
	return 0;
}

int main(int argc, char **argv)
{
	double rd = 0, wr = 0, fs, rs = 0, t0;
	unsigned long long bytes = 0;
	unsigned long start, end;
	char path[64], line[512], perms[8], name[256];
	FILE *maps;
	char *buf;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: physref PID FILE\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%s/maps", argv[1]);
	maps = fopen(path, "re");
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	buf = malloc(CHUNK);
	if (!maps || fd < 0 || !buf) {
		perror("physref: setup");
		return 1;
	}
	while (fgets(line, sizeof(line), maps)) {
		name[0] = 0;
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &start, &end, perms, name) < 3)
			continue;
		/* Private writable anonymous memory: what a checkpoint must copy. */
		if (strcmp(perms, "rw-p") || (name[0] && strcmp(name, "[heap]")))
			continue;
		if (copy_range(atoi(argv[1]), start, end, fd, buf, &rd, &wr, &bytes) < 0) {
			perror("physref: copy");
			return 1;
		}
	}
	t0 = now();
	if (fsync(fd) < 0) {
		perror("physref: fsync");
		return 1;
	}
	fs = now() - t0;
	close(fd);
	if (restore_side(argv[2], bytes, &rs) < 0) {
		perror("physref: read back");
		return 1;
	}
	printf("bytes %llu read_s %.3f write_s %.3f fsync_s %.3f restore_s %.3f\n", bytes, rd, wr,
	       fs, rs);
	return 0;
}
