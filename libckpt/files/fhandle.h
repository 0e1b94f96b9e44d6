/*
 * libckpt/files/fhandle.h - paths of the objects that inotify and fanotify
 * fdinfo name by file handle, device or mount id, seen from the task.
 */
#ifndef CKPT_FILES_FHANDLE_H
#define CKPT_FILES_FHANDLE_H

#include <sys/types.h>

#include "files/files.h"

/* The kernel's dev_t as fdinfo prints it: 12 bits major, 20 bits minor. */
dev_t fhandle_kdev(unsigned long sdev);

/*
 * Path of the inode behind a file handle (hex as fdinfo prints it, of the
 * given type) on the task's mount with device dev.
 */
int fhandle_path(const struct fd_info *fi, dev_t dev, const char *hex, unsigned int type,
		 char **out, ckpt_err_t *err);

/* The same, and an O_PATH fd on the inode into *keep. */
int fhandle_open(const struct fd_info *fi, dev_t dev, const char *hex, unsigned int type,
		 char **out, int *keep, ckpt_err_t *err);

/* Mount point (as the task sees it) of its mount with this id, or with this device. */
int fhandle_mount_by_id(const struct fd_info *fi, int mnt_id, char **out, ckpt_err_t *err);
int fhandle_mount_by_dev(const struct fd_info *fi, dev_t dev, char **out, ckpt_err_t *err);

#endif
