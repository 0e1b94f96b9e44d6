/*
 * ns_ipc_sem - a SysV semaphore set in the tree's own IPC namespace: id,
 * key, mode and every value kept; operations work after restore.
 */
#include <sys/ipc.h>
#include <sys/sem.h>

#include "wl.h"

#define KEY 0x4b505432

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

int main(int argc, char **argv)
{
	unsigned short set[4] = {5, 0, 42, 32767}, got[4];
	struct sembuf op = {0, -2, IPC_NOWAIT};
	struct semid_ds ds;
	int id, other;

	wl_init(argc, argv);
	other = semget(IPC_PRIVATE, 1, 0600); /* takes an id first */
	id = semget(KEY, 4, IPC_CREAT | IPC_EXCL | 0604);
	if (id < 0 || other < 0 || semctl(id, 0, SETALL, (union semun){.array = set}) < 0)
		return wl_fail("semget/SETALL: %m");
	if (semop(id, &op, 1) < 0) /* 5 -> 3 */
		return wl_fail("semop: %m");
	wl_ready();
	wl_wait_restored();
	if (semget(KEY, 0, 0) != id)
		return wl_fail("key now has id %d, want %d", semget(KEY, 0, 0), id);
	if (semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) < 0 || ds.sem_nsems != 4 ||
	    (ds.sem_perm.mode & 0777) != 0604)
		return wl_fail("IPC_STAT: %m, nsems %lu mode %o", (unsigned long)ds.sem_nsems,
			       ds.sem_perm.mode & 0777);
	if (semctl(id, 0, GETALL, (union semun){.array = got}) < 0)
		return wl_fail("GETALL: %m");
	if (got[0] != 3 || got[1] != 0 || got[2] != 42 || got[3] != 32767)
		return wl_fail("values %u %u %u %u", got[0], got[1], got[2], got[3]);
	if (semop(id, &op, 1) < 0 || semop(id, &op, 1) == 0)
		return wl_fail("semop after restore: 3 - 2 must work, 1 - 2 must not");
	if (semctl(other, 0, IPC_STAT, (union semun){.buf = &ds}) < 0)
		return wl_fail("private set %d: %m", other);
	semctl(id, 0, IPC_RMID);
	semctl(other, 0, IPC_RMID);
	return wl_pass();
}
