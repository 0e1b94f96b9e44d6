/*
 * fd_sparse - contents and offsets of files restore makes or reopens:
 *   - an unlinked file of 1 GiB apparent size holding three 4 KiB runs of
 *     data (far above the default ghost limit in size, far below it in
 *     data): the same runs and holes after restore (SEEK_DATA/SEEK_HOLE),
 *     the same bytes;
 *   - a sparse memfd with its offset in the middle, and a file in /dev/shm
 *     (shm_open) with its offset: both offsets kept;
 *   - a file opened O_RDWR | O_APPEND read part way (the read offset
 *     counts, even though writes go to the end);
 *   - a file opened for writing whose mtime lies in the past: unchanged by
 *     the restore.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

#define GIB (1LL << 30)

static const off_t runs[] = {0, 512LL << 20, GIB - 4096};

/* The data/hole map of fd: "data@0+4096 hole@4096 ...", at most len bytes. */
static void map_of(int fd, off_t size, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (off_t off = 0; off < size && n < len;) {
		off_t d = lseek(fd, off, SEEK_DATA), h;

		if (d < 0)
			break;
		h = lseek(fd, d, SEEK_HOLE);
		n += snprintf(out + n, len - n, "data@%lld+%lld ", (long long)d,
			      (long long)(h - d));
		off = h;
	}
}

static int fill(int fd, char c)
{
	char page[4096];

	memset(page, c, sizeof(page));
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		if (pwrite(fd, page, sizeof(page), runs[i]) != (ssize_t)sizeof(page))
			return -1;
	return ftruncate(fd, GIB);
}

static int same_data(int fd, char c)
{
	char page[4096];

	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		if (pread(fd, page, sizeof(page), runs[i]) != (ssize_t)sizeof(page))
			return 0;
		for (size_t k = 0; k < sizeof(page); k++)
			if (page[k] != c)
				return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	char gmap0[512], gmap1[512], mmap0[512], mmap1[512], shm[64], buf[8];
	const char *ghost = fd_path("sparse-ghost"), *apath = fd_path("append"),
		   *wpath = fd_path("written");
	struct timespec past[2] = {{1000000000, 0}, {1000000000, 500}};
	struct stat st;
	int gfd, mfd, sfd, afd, wfd;

	wl_init(argc, argv);
	gfd = open(ghost, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (gfd < 0 || fill(gfd, 'g') < 0 || unlink(ghost) < 0)
		return wl_fail("sparse unlinked file: %m");
	mfd = memfd_create("sparse", MFD_CLOEXEC);
	if (mfd < 0 || fill(mfd, 'm') < 0 || lseek(mfd, 12345, SEEK_SET) != 12345)
		return wl_fail("sparse memfd: %m");
	snprintf(shm, sizeof(shm), "/ckpt-wl-sparse-%d", getpid());
	sfd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (sfd < 0 || write(sfd, "0123456789", 10) != 10 || lseek(sfd, 7, SEEK_SET) != 7)
		return wl_fail("shm_open: %m");
	afd = open(apath, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (afd < 0 || write(afd, "abcdef", 6) != 6 || lseek(afd, 2, SEEK_SET) != 2)
		return wl_fail("append file: %m");
	wfd = open(wpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (wfd < 0 || write(wfd, "x", 1) != 1 || futimens(wfd, past) < 0)
		return wl_fail("written file: %m");
	map_of(gfd, GIB, gmap0, sizeof(gmap0));
	map_of(mfd, GIB, mmap0, sizeof(mmap0));
	lseek(mfd, 12345, SEEK_SET);

	wl_ready();
	wl_wait_restored();

	if (lseek(mfd, 0, SEEK_CUR) != 12345)
		return wl_fail("memfd offset %lld, want 12345", (long long)lseek(mfd, 0, SEEK_CUR));
	if (lseek(sfd, 0, SEEK_CUR) != 7)
		return wl_fail("/dev/shm file offset %lld, want 7",
			       (long long)lseek(sfd, 0, SEEK_CUR));
	if (read(afd, buf, 2) != 2 || memcmp(buf, "cd", 2))
		return wl_fail("O_APPEND file read at the wrong offset");
	if (fstat(wfd, &st) < 0 || st.st_mtim.tv_sec != past[1].tv_sec ||
	    st.st_mtim.tv_nsec != past[1].tv_nsec)
		return wl_fail("mtime of an open file changed: %ld.%09ld", (long)st.st_mtim.tv_sec,
			       st.st_mtim.tv_nsec);
	if (fstat(gfd, &st) < 0 || st.st_size != GIB || !same_data(gfd, 'g'))
		return wl_fail("unlinked file: size %lld or data differ", (long long)st.st_size);
	map_of(gfd, GIB, gmap1, sizeof(gmap1));
	if (strcmp(gmap0, gmap1))
		return wl_fail("unlinked file holes: %s, were %s", gmap1, gmap0);
	if (fstat(mfd, &st) < 0 || st.st_size != GIB || !same_data(mfd, 'm'))
		return wl_fail("memfd: size %lld or data differ", (long long)st.st_size);
	map_of(mfd, GIB, mmap1, sizeof(mmap1));
	if (strcmp(mmap0, mmap1))
		return wl_fail("memfd holes: %s, were %s", mmap1, mmap0);
	shm_unlink(shm);
	return wl_pass();
}
