/*
 * bench_tokens: how the token store behaves with many tokens.
 *
 *	bench_tokens [-k] [-n tokens] [-l lookups] [-d parent-dir]
 *
 * Fills a fresh Berkeley DB store (authd/store_bdb.c, in a temporary
 * directory) with n tokens (default 1,000,000; ten per address), closes
 * it, opens it again as authd would, and times the login check authd does
 * for each login: format check, HMAC, look-up by hash, compare.  Reports,
 * one "key=value" per line:
 *
 *	tokens, fill_seconds		how many, and how long filling took
 *	lookup_p50_us, lookup_p99_us, lookup_max_us
 *					known tokens, picked at random
 *	miss_p50_us, miss_p99_us	well-formed tokens that are not there
 *	add_sync_p50_us, add_sync_p99_us
 *					"token add" with its synchronous
 *					commit, on the full store
 *	store_bytes, log_bytes		disk used (blocks) by the databases
 *					and by the log after a checkpoint
 *
 * The bound is lookup_p99_us < 1000 at a million tokens.  -k keeps
 * the directory.  Filling uses no fsync (STORE_F_NOSYNC): what is measured
 * is the look-up, and a million synchronous commits would take an hour.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * The store lives in authd/, whose archive this program's link rule does
 * not take: compile its one file in.  (A rule linking
 * $(O)/authd/libauthd.a would do as well; this file would then need no
 * change but the line below.)
 */
#include "authd/store.h"
#include "log.h"

#include "token.h"

#define SAMPLE_EVERY	100	/* keep one token in that many for look-ups */

static unsigned char hkey[32];

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double *v, size_t n, double p)
{
	size_t i;

	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static int
path_join(char *buf, size_t bufsz, const char *dir, const char *name)
{
	int n;

	n = snprintf(buf, bufsz, "%s/%s", dir, name);
	return (n < 0 || (size_t)n >= bufsz) ? -1 : 0;
}

static void
du(const char *dir, unsigned long long *db, unsigned long long *logs)
{
	char path[4096];
	struct dirent *de;
	struct stat sb;
	DIR *d;

	*db = *logs = 0;
	if ((d = opendir(dir)) == NULL)
		err(1, "%s", dir);
	while ((de = readdir(d)) != NULL) {
		if (path_join(path, sizeof(path), dir, de->d_name) == -1 ||
		    stat(path, &sb) == -1 || !S_ISREG(sb.st_mode))
			continue;
		if (strncmp(de->d_name, "log.", 4) == 0)
			*logs += (unsigned long long)sb.st_blocks * 512;
		else
			*db += (unsigned long long)sb.st_blocks * 512;
	}
	closedir(d);
}

static void
rm_dir(const char *dir)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (path_join(path, sizeof(path), dir, de->d_name) == 0)
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void
mkrec(struct token_rec *r, size_t i, const char *tok)
{
	memset(r, 0, sizeof(*r));
	r->id = token_new_id();
	token_hash(hkey, sizeof(hkey), tok, TOKEN_LEN, r->hash);
	snprintf(r->addr, sizeof(r->addr), "device%07zu@example.com", i / 10);
	snprintf(r->name, sizeof(r->name), "printer %zu", i % 10);
	if (i % 3 == 0)
		snprintf(r->account, sizeof(r->account), "cust-%zu", i / 300);
	r->created = 1700000000 + (int64_t)i;
}

/* The work authd does for one login, as authd_login.c does it. */
static int
login_check(struct store *st, const char *tok, const char *user)
{
	unsigned char h[TOKEN_HASH_LEN];
	struct token_rec r;
	int res;

	if (token_check_format(tok, TOKEN_LEN) == -1)
		return -1;
	token_hash(hkey, sizeof(hkey), tok, TOKEN_LEN, h);
	res = st->lookup(st, h, &r);
	if (res == STORE_OK && strcasecmp(r.addr, user) == 0)
		return 0;
	return res == STORE_ERROR ? -2 : -1;
}

int
main(int argc, char *argv[])
{
	char tmpl[4096], tok[TOKEN_LEN + 1], user[MAX_ADDR], *samples;
	const char *parent;
	struct store *st;
	struct token_rec r;
	double t0, *lat, fill;
	size_t n = 1000000, nlook = 100000, nsamples, i, j;
	unsigned long long dbb, logb;
	int ch, keep = 0, res;

	if ((parent = getenv("TMPDIR")) == NULL)
		parent = "/tmp";
	while ((ch = getopt(argc, argv, "d:kl:n:")) != -1) {
		switch (ch) {
		case 'd':
			parent = optarg;
			break;
		case 'k':
			keep = 1;
			break;
		case 'l':
			nlook = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: bench_tokens [-k] [-n tokens] "
			    "[-l lookups] [-d dir]\n");
			return 2;
		}
	}
	if (n < SAMPLE_EVERY || nlook == 0)
		errx(2, "need at least %d tokens and one look-up",
		    SAMPLE_EVERY);
	log_init("bench_tokens", LOG_TO_STDERR, 0);
	arc4random_buf(hkey, sizeof(hkey));
	snprintf(tmpl, sizeof(tmpl), "%s/bench_tokens.XXXXXX", parent);
	if (mkdtemp(tmpl) == NULL)
		err(1, "mkdtemp %s", tmpl);

	nsamples = n / SAMPLE_EVERY;
	if ((samples = calloc(nsamples, TOKEN_LEN + 1)) == NULL ||
	    (lat = calloc(nlook > 1000 ? nlook : 1000, sizeof(double))) == NULL)
		err(1, "calloc");

	/* Fill. */
	if ((st = store_bdb_open(tmpl, STORE_F_NOSYNC)) == NULL)
		errx(1, "cannot open the store in %s", tmpl);
	t0 = now_us();
	for (i = 0; i < n; i++) {
		token_generate(tok, sizeof(tok));
		mkrec(&r, i, tok);
		if ((res = st->add(st, &r)) != STORE_OK)
			errx(1, "add %zu: %d", i, res);
		if (i % SAMPLE_EVERY == 0)
			memcpy(samples + (i / SAMPLE_EVERY) * (TOKEN_LEN + 1),
			    tok, TOKEN_LEN + 1);
		if (i % 100000 == 0 && i > 0)
			st->sync(st);
	}
	fill = (now_us() - t0) / 1e6;
	st->close(st);

	/* Open again, as authd does at start (recovery included). */
	if ((st = store_bdb_open(tmpl, 0)) == NULL)
		errx(1, "cannot reopen the store");

	for (i = 0; i < nlook; i++) {
		j = arc4random_uniform((uint32_t)nsamples);
		memcpy(tok, samples + j * (TOKEN_LEN + 1), TOKEN_LEN + 1);
		snprintf(user, sizeof(user), "device%07zu@example.com",
		    (j * SAMPLE_EVERY) / 10);
		t0 = now_us();
		res = login_check(st, tok, user);
		lat[i] = now_us() - t0;
		if (res != 0)
			errx(1, "token %zu not found (%d)", j, res);
	}
	qsort(lat, nlook, sizeof(double), cmp_double);
	printf("tokens=%zu\n", n);
	printf("fill_seconds=%.1f\n", fill);
	printf("lookups=%zu\n", nlook);
	printf("lookup_p50_us=%.1f\n", pct(lat, nlook, 0.50));
	printf("lookup_p99_us=%.1f\n", pct(lat, nlook, 0.99));
	printf("lookup_max_us=%.1f\n", lat[nlook - 1]);

	for (i = 0; i < nlook; i++) {
		token_generate(tok, sizeof(tok));
		t0 = now_us();
		res = login_check(st, tok, "nobody@example.com");
		lat[i] = now_us() - t0;
		if (res != -1)
			errx(1, "a random token was accepted (%d)", res);
	}
	qsort(lat, nlook, sizeof(double), cmp_double);
	printf("miss_p50_us=%.1f\n", pct(lat, nlook, 0.50));
	printf("miss_p99_us=%.1f\n", pct(lat, nlook, 0.99));

	/* A few "token add" with the synchronous commit authd uses. */
	for (i = 0; i < 200; i++) {
		token_generate(tok, sizeof(tok));
		mkrec(&r, n + i, tok);
		t0 = now_us();
		if ((res = st->add(st, &r)) != STORE_OK)
			errx(1, "add: %d", res);
		lat[i] = now_us() - t0;
	}
	qsort(lat, 200, sizeof(double), cmp_double);
	printf("add_sync_p50_us=%.1f\n", pct(lat, 200, 0.50));
	printf("add_sync_p99_us=%.1f\n", pct(lat, 200, 0.99));

	st->sync(st);
	st->close(st);
	du(tmpl, &dbb, &logb);
	printf("store_bytes=%llu\n", dbb);
	printf("log_bytes=%llu\n", logb);
	printf("bytes_per_token=%.0f\n", (double)dbb / (double)n);

	if (keep)
		printf("dir=%s\n", tmpl);
	else
		rm_dir(tmpl);
	free(samples);
	free(lat);
	return 0;
}
