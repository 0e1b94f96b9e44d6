/*
 * ns_ipc_shm - SysV shared memory in the tree's own IPC namespace: a keyed
 * segment attached by the root and by its child (the child inherits the
 * attachment), and an IPC_PRIVATE segment nobody has attached. After
 * restore: same ids, key, mode and size, contents kept, both processes
 * still see one segment (a word the root writes, the child reads).
 */
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"

#define KEY  0x4b505431
#define SIZE (3 * 4096 + 100)

static int check_words(const uint64_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != wl_pattern(seed, i))
			return -1;
	return 0;
}

static int child(volatile uint64_t *p, int rfd)
{
	char c;

	if (read(rfd, &c, 1) != 1)
		return 2;
	return p[SIZE / 8 - 1] == 0x1234567890abcdefULL ? 0 : 3;
}

int main(int argc, char **argv)
{
	int id, id2, p[2], st;
	struct shmid_ds ds;
	uint64_t *a, *b;
	pid_t pid;

	wl_init(argc, argv);
	id = shmget(KEY, SIZE, IPC_CREAT | IPC_EXCL | 0640);
	id2 = shmget(IPC_PRIVATE, 8192, 0600);
	if (id < 0 || id2 < 0)
		return wl_fail("shmget: %m");
	a = shmat(id, NULL, 0);
	b = shmat(id2, NULL, 0);
	if (a == (void *)-1 || b == (void *)-1)
		return wl_fail("shmat: %m");
	for (size_t i = 0; i < SIZE / 8; i++)
		a[i] = wl_pattern(1, i);
	for (size_t i = 0; i < 8192 / 8; i++)
		b[i] = wl_pattern(2, i);
	if (shmdt(b) < 0 || pipe(p) < 0)
		return wl_fail("shmdt/pipe: %m");
	pid = fork();
	if (pid == 0)
		_exit(child(a, p[0]));
	wl_ready();
	wl_wait_restored();
	if (shmget(KEY, 0, 0) != id)
		return wl_fail("key %#x now has id %d, want %d", KEY, shmget(KEY, 0, 0), id);
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return wl_fail("IPC_STAT %d: %m", id);
	if (ds.shm_segsz != SIZE || (ds.shm_perm.mode & 0777) != 0640 || ds.shm_nattch != 2)
		return wl_fail("segment: size %zu mode %o nattch %lu", ds.shm_segsz,
			       ds.shm_perm.mode & 0777, (unsigned long)ds.shm_nattch);
	if (check_words(a, SIZE / 8, 1))
		return wl_fail("attached segment contents differ");
	b = shmat(id2, NULL, SHM_RDONLY);
	if (b == (void *)-1)
		return wl_fail("private segment %d: %m", id2);
	if (check_words(b, 8192 / 8, 2))
		return wl_fail("private segment contents differ");
	a[SIZE / 8 - 1] = 0x1234567890abcdefULL;
	if (write(p[1], "x", 1) != 1 || waitpid(pid, &st, 0) != pid)
		return wl_fail("child: %m");
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return wl_fail("child does not see the root's write (status %#x)", st);
	shmctl(id, IPC_RMID, NULL);
	shmctl(id2, IPC_RMID, NULL);
	return wl_pass();
}
