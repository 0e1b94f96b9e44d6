/*
 * libckpt/lazy/page-proto.h - the page server's wire format (page-server.c
 * serves it, page-src.c asks it). All integers in the host's order: both
 * ends are x86-64.
 *
 *   server: PS_MAGIC (8 bytes), nonce (32)
 *   client: BLAKE2b keyed with the bundle's key over magic and nonce (32)
 *   server: int32 0, or an errno and it closes
 *   then, repeated: client: struct ps_req; server: struct ps_resp, len bytes
 *   client: a ps_req with chunk PS_BYE: done (a server run --once exits)
 *
 * The handshake only decides who may read the pages; that the pages are
 * right is checked by the client against the bundle's digests. A live
 * image (bundle.h: read from the stopped tree, never hashed) has none:
 * each reply is followed by PS_MAC_BYTES of keyed BLAKE2b under
 * bundle_live_key over the image's name with its NUL, the chunk index
 * (le64), the offset in the chunk (le32), the length (le32) and the
 * bytes. Of a live image a client may ask part of a chunk (off, len: a
 * fault's page need not wait for the rest of its 1 MiB); of any other
 * image only whole chunks (off and len 0), which its digests cover.
 */
#ifndef CKPT_PAGE_PROTO_H
#define CKPT_PAGE_PROTO_H

#include <stdint.h>

#define PS_MAGIC     "CKPTPS02"
#define PS_NONCE     32
#define PS_NAME_MAX  64
#define PS_BYE	     UINT64_MAX
#define PS_MAC_BYTES 32

struct ps_req {
	char name[PS_NAME_MAX]; /* pages-PID.img, NUL-terminated */
	uint64_t chunk;		/* BUNDLE_CHUNK_BYTES each */
	uint32_t off, len;	/* part of a live chunk; len 0: all of it */
};

struct ps_resp {
	int32_t status; /* 0, or an errno */
	uint32_t len;
};

#endif
