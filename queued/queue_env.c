/*
 * queue_env.c: envelope encoding with a checksum; queue ids.
 * See queue_env.h for the file format.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_env.h"

void
env_init(struct envelope *env)
{
	memset(env, 0, sizeof(*env));
}

void
env_free(struct envelope *env)
{
	free(env->rcpt);
	free(env->dkim);
	env_init(env);
}

int
env_add_rcpt(struct envelope *env, const char *addr, int64_t next)
{
	struct env_rcpt *r;
	uint32_t cap;

	if (env->nrcpt >= ENV_MAX_RCPT)
		return -1;
	/*
	 * Grow by doubling: a recipient is over a kilobyte, and growing by
	 * one would copy the whole array for each of up to ENV_MAX_RCPT
	 * recipients (gigabytes of copying wherever realloc cannot extend
	 * in place, always under AddressSanitizer).
	 */
	if (env->nrcpt == env->rcptcap) {
		cap = env->rcptcap < 8 ? 8 : env->rcptcap * 2;
		if (cap > ENV_MAX_RCPT)
			cap = ENV_MAX_RCPT;
		if ((r = reallocarray(env->rcpt, cap, sizeof(*r))) == NULL)
			return -1;
		env->rcpt = r;
		env->rcptcap = cap;
	}
	r = &env->rcpt[env->nrcpt];
	memset(r, 0, sizeof(*r));
	if (strlcpy(r->addr, addr, sizeof(r->addr)) >= sizeof(r->addr))
		return -1;
	r->state = RCPT_PENDING;
	r->next = next;
	env->nrcpt++;
	return 0;
}

int
env_set_dkim(struct envelope *env, const void *p, size_t len)
{
	char *d = NULL;

	if (len > ENV_MAX_DKIM)
		return -1;
	if (len > 0) {
		if ((d = malloc(len)) == NULL)
			return -1;
		memcpy(d, p, len);
	}
	free(env->dkim);
	env->dkim = d;
	env->dkimlen = len;
	return 0;
}

/*
 * CRC-32 as in zlib and Ethernet (reflected, polynomial 0xEDB88320),
 * computed with a table built on first use.
 */
uint32_t
env_crc32(uint32_t crc, const void *p, size_t len)
{
	static uint32_t table[256];
	static int ready;
	const unsigned char *s = p;
	uint32_t c;
	int i, k;

	if (!ready) {
		for (i = 0; i < 256; i++) {
			c = i;
			for (k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320U ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = 1;
	}
	crc = ~crc;
	while (len-- > 0)
		crc = table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* Little-endian writers into a dbuf; errors accumulate in *err. */
static void
put_u32(struct dbuf *b, uint32_t v, int *err)
{
	unsigned char x[4];
	int i;

	for (i = 0; i < 4; i++)
		x[i] = v >> (8 * i);
	if (dbuf_append(b, x, sizeof(x)) == -1)
		*err = 1;
}

static void
put_u64(struct dbuf *b, uint64_t v, int *err)
{
	put_u32(b, (uint32_t)v, err);
	put_u32(b, (uint32_t)(v >> 32), err);
}

static void
put_bytes(struct dbuf *b, const void *p, size_t len, int *err)
{
	put_u32(b, len, err);
	if (len > 0 && dbuf_append(b, p, len) == -1)
		*err = 1;
}

static void
put_str(struct dbuf *b, const char *s, int *err)
{
	put_bytes(b, s, strlen(s), err);
}

int
env_encode(const struct envelope *env, struct dbuf *b)
{
	const struct env_rcpt *r;
	size_t start, plen;
	uint32_t i, crc;
	int err = 0;

	start = b->len;
	if (dbuf_append(b, ENV_MAGIC, 8) == -1)
		return -1;
	put_u32(b, ENV_VERSION, &err);
	put_u32(b, 0, &err);		/* length, filled in below */
	put_u32(b, 0, &err);		/* checksum, likewise */

	put_u64(b, env->id, &err);
	put_u64(b, (uint64_t)env->created, &err);
	put_str(b, env->sender, &err);
	put_u64(b, env->token, &err);
	put_str(b, env->client, &err);
	put_str(b, env->helo, &err);
	put_u32(b, env->body, &err);
	put_u64(b, env->size, &err);
	put_u32(b, env->flags, &err);
	put_u32(b, env->inflight, &err);
	put_bytes(b, env->dkim, env->dkimlen, &err);
	put_u32(b, env->nrcpt, &err);
	for (i = 0; i < env->nrcpt; i++) {
		r = &env->rcpt[i];
		put_str(b, r->addr, &err);
		put_u32(b, r->state, &err);
		put_u32(b, r->flags, &err);
		put_u32(b, r->attempts, &err);
		put_u64(b, (uint64_t)r->next, &err);
		put_u64(b, (uint64_t)r->last, &err);
		put_u32(b, r->code, &err);
		put_str(b, r->enhanced, &err);
		put_str(b, r->host, &err);
		put_str(b, r->text, &err);
	}
	if (err || b->len - start > ENV_MAX_FILE) {
		b->len = start;
		return -1;
	}
	plen = b->len - start - ENV_HDR_SIZE;
	crc = env_crc32(0, b->data + start + ENV_HDR_SIZE, plen);
	for (i = 0; i < 4; i++) {
		b->data[start + 12 + i] = (uint32_t)plen >> (8 * i);
		b->data[start + 16 + i] = crc >> (8 * i);
	}
	return 0;
}

/* A bounded reader over the payload; any failure sticks. */
struct env_rd {
	const unsigned char *p;
	size_t		 len;
	size_t		 off;
	const char	*why;
};

static void
rd_fail(struct env_rd *rd, const char *why)
{
	if (rd->why == NULL)
		rd->why = why;
}

static uint32_t
get_u32(struct env_rd *rd)
{
	uint32_t v = 0;
	int i;

	if (rd->why != NULL || rd->len - rd->off < 4) {
		rd_fail(rd, "truncated field");
		return 0;
	}
	for (i = 0; i < 4; i++)
		v |= (uint32_t)rd->p[rd->off + i] << (8 * i);
	rd->off += 4;
	return v;
}

static uint64_t
get_u64(struct env_rd *rd)
{
	uint64_t lo, hi;

	lo = get_u32(rd);
	hi = get_u32(rd);
	return lo | hi << 32;
}

static const unsigned char *
get_bytes(struct env_rd *rd, size_t *lenp, size_t max)
{
	const unsigned char *p;
	uint32_t n;

	*lenp = 0;
	n = get_u32(rd);
	if (rd->why != NULL)
		return NULL;
	if (n > max || rd->len - rd->off < n) {
		rd_fail(rd, "field too long");
		return NULL;
	}
	p = rd->p + rd->off;
	rd->off += n;
	*lenp = n;
	return p;
}

static void
get_str(struct env_rd *rd, char *dst, size_t dstsz)
{
	const unsigned char *p;
	size_t n;

	dst[0] = '\0';
	p = get_bytes(rd, &n, dstsz - 1);
	if (p == NULL)
		return;
	if (memchr(p, '\0', n) != NULL) {
		rd_fail(rd, "NUL inside a string");
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static void
get_rcpt(struct env_rd *rd, struct env_rcpt *r)
{
	get_str(rd, r->addr, sizeof(r->addr));
	r->state = get_u32(rd);
	r->flags = get_u32(rd);
	r->attempts = get_u32(rd);
	r->next = (int64_t)get_u64(rd);
	r->last = (int64_t)get_u64(rd);
	r->code = get_u32(rd);
	get_str(rd, r->enhanced, sizeof(r->enhanced));
	get_str(rd, r->host, sizeof(r->host));
	get_str(rd, r->text, sizeof(r->text));
	if (rd->why == NULL && (r->state > RCPT_FAILED || r->code > 599 ||
	    r->addr[0] == '\0'))
		rd_fail(rd, "bad recipient");
}

static int
env_decode_payload(struct env_rd *rd, struct envelope *env)
{
	const unsigned char *p;
	size_t n;
	uint32_t i, nrcpt;

	env->id = get_u64(rd);
	env->created = (int64_t)get_u64(rd);
	get_str(rd, env->sender, sizeof(env->sender));
	env->token = get_u64(rd);
	get_str(rd, env->client, sizeof(env->client));
	get_str(rd, env->helo, sizeof(env->helo));
	env->body = get_u32(rd);
	env->size = get_u64(rd);
	env->flags = get_u32(rd);
	env->inflight = get_u32(rd);
	p = get_bytes(rd, &n, ENV_MAX_DKIM);
	if (rd->why == NULL && env_set_dkim(env, p, n) == -1)
		rd_fail(rd, "out of memory");
	nrcpt = get_u32(rd);
	if (rd->why != NULL)
		return -1;
	if (env->id == 0 || nrcpt == 0 || nrcpt > ENV_MAX_RCPT ||
	    (env->body & ~(BODY_8BIT | BODY_SMTPUTF8)) != 0 ||
	    (env->flags & ~ENV_F_ALL) != 0) {
		rd_fail(rd, "bad field value");
		return -1;
	}
	/* Each recipient takes at least 49 bytes: no huge allocation. */
	if (nrcpt > (rd->len - rd->off) / 49) {
		rd_fail(rd, "truncated recipients");
		return -1;
	}
	if ((env->rcpt = calloc(nrcpt, sizeof(*env->rcpt))) == NULL) {
		rd_fail(rd, "out of memory");
		return -1;
	}
	env->nrcpt = env->rcptcap = nrcpt;
	for (i = 0; i < nrcpt && rd->why == NULL; i++)
		get_rcpt(rd, &env->rcpt[i]);
	if (rd->why == NULL && rd->off != rd->len)
		rd_fail(rd, "bytes after the last field");
	return rd->why == NULL ? 0 : -1;
}

int
env_decode(const void *buf, size_t len, struct envelope *env,
    const char **why)
{
	const unsigned char *p = buf;
	struct env_rd rd;
	uint32_t version, plen, crc;

	env_init(env);
	memset(&rd, 0, sizeof(rd));
	if (len < ENV_HDR_SIZE || memcmp(p, ENV_MAGIC, 8) != 0) {
		*why = "not an envelope";
		return -1;
	}
	rd.p = p;
	rd.len = ENV_HDR_SIZE;
	rd.off = 8;
	version = get_u32(&rd);
	plen = get_u32(&rd);
	crc = get_u32(&rd);
	if (version != ENV_VERSION) {
		*why = "unknown envelope version";
		return -1;
	}
	if (plen != len - ENV_HDR_SIZE) {
		*why = "length mismatch (torn write)";
		return -1;
	}
	if (env_crc32(0, p + ENV_HDR_SIZE, plen) != crc) {
		*why = "checksum mismatch (torn write)";
		return -1;
	}
	rd.p = p + ENV_HDR_SIZE;
	rd.len = plen;
	rd.off = 0;
	if (env_decode_payload(&rd, env) == -1) {
		*why = rd.why;
		env_free(env);
		return -1;
	}
	return 0;
}

void
qid_format(uint64_t id, char buf[QID_LEN + 1])
{
	static const char hex[] = "0123456789ABCDEF";
	int i;

	for (i = QID_LEN - 1; i >= 0; i--) {
		buf[i] = hex[id & 0xf];
		id >>= 4;
	}
	buf[QID_LEN] = '\0';
}

uint64_t
qid_parse(const char *s)
{
	uint64_t id = 0;
	int i;

	for (i = 0; i < QID_LEN; i++) {
		id <<= 4;
		if (s[i] >= '0' && s[i] <= '9')
			id |= s[i] - '0';
		else if (s[i] >= 'A' && s[i] <= 'F')
			id |= s[i] - 'A' + 10;
		else
			return 0;
	}
	if (s[QID_LEN] != '\0')
		return 0;
	return id;
}

uint64_t
qid_new(int64_t now)
{
	uint64_t id;

	/* Time-ordered ids sort like the queue; the random low bits make a
	 * collision (then O_EXCL fails and a new id is drawn) rare. */
	do {
		id = (uint64_t)now << 28 | (arc4random() & 0x0fffffff);
	} while (id == 0);
	return id;
}

void
qtok_format(uint64_t id, char buf[QID_LEN + 1])
{
	snprintf(buf, QID_LEN + 1, "%016llx", (unsigned long long)id);
}

int
qtok_parse(const char *s, uint64_t *idp)
{
	size_t n = strlen(s);

	if (n == 0 || n > QID_LEN || strspn(s, "0123456789abcdefABCDEF") != n)
		return -1;
	*idp = strtoull(s, NULL, 16);
	return *idp == 0 ? -1 : 0;
}

uint32_t
env_count(const struct envelope *env, uint32_t state)
{
	uint32_t i, n = 0;

	for (i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].state == state)
			n++;
	return n;
}

const char *
env_rcpt_domain(const char *addr)
{
	const char *at;

	if ((at = strrchr(addr, '@')) == NULL)
		return "";
	return at + 1;
}
