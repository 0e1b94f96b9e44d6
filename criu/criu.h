/*
 * criu/criu.h - `ckpt-oci criu ...`, also run as `criu`: CRIU's command
 * line as far as callers use it (--version, check, swrk FD).
 */
#ifndef CKPT_CRIU_H
#define CKPT_CRIU_H

int criu_main(int argc, char **argv);

#endif
