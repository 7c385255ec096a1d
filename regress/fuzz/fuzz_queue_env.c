/*
 * fuzz_queue_env: env_decode() on arbitrary bytes.  Whatever decodes
 * must encode again to a file that decodes to the same bytes.  When the
 * first byte is odd, the rest is taken as a payload and given a correct
 * header and checksum, so that the field parser is reached too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queued/queue_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct envelope env, again;
	struct dbuf a, b, in;
	const char *why;
	unsigned char hdr[ENV_HDR_SIZE];
	uint32_t v[3];
	int i, k, rv;

	dbuf_init(&in, ENV_MAX_FILE + ENV_HDR_SIZE);
	if (len > 0 && (data[0] & 1)) {
		v[0] = ENV_VERSION;
		v[1] = len - 1;
		v[2] = env_crc32(0, data + 1, len - 1);
		memcpy(hdr, ENV_MAGIC, 8);
		for (k = 0; k < 3; k++)
			for (i = 0; i < 4; i++)
				hdr[8 + 4 * k + i] = v[k] >> (8 * i);
		dbuf_append(&in, hdr, sizeof(hdr));
		dbuf_append(&in, data + 1, len - 1);
	} else
		dbuf_append(&in, data, len);
	rv = env_decode(in.data, in.len, &env, &why);
	dbuf_free(&in);
	if (rv == -1)
		return 0;
	dbuf_init(&a, ENV_MAX_FILE);
	dbuf_init(&b, ENV_MAX_FILE);
	if (env_encode(&env, &a) == -1)
		abort();
	if (env_decode(a.data, a.len, &again, &why) == -1)
		abort();
	if (env_encode(&again, &b) == -1 || a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)
		abort();
	env_free(&env);
	env_free(&again);
	dbuf_free(&a);
	dbuf_free(&b);
	return 0;
}
