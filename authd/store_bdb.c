/*
 * store_bdb.c: the token store in Berkeley DB 5.3 (see store.h for the
 * interface every store offers).
 *
 * Files, all in the environment directory (authd's chroot, its root):
 *
 *	tokens.db	B-tree, token id (8 bytes, big-endian: ordered as
 *			numbers) -> the marshalled record (rec_encode)
 *	by_hash.db	hash table, token hash (32 bytes) -> id; unique.  A
 *			hash table, not a tree, so that a login costs the
 *			same with ten tokens or ten million.
 *	by_addr.db	B-tree, "address NUL name" -> id; unique, which is
 *			what makes names unique per address, and ordered,
 *			so that one address's tokens are one range.
 *	by_account.db	B-tree, "account NUL id" -> id, for tokens that
 *			have an account.
 *	meta.db		B-tree, "count" -> number of tokens (8 bytes), kept
 *			in the same transactions as the tokens.
 *	log.*		the write-ahead log.
 *
 * The three indexes are Berkeley DB secondary databases: the library keeps
 * them in step with tokens.db inside each transaction, so a crash can
 * never leave an index pointing at a record that is not there.
 *
 * Durability.  The environment is transactional and is opened with
 * DB_RECOVER, which replays or undoes the log after a crash (kill -9
 * included), so every transaction is there completely or not at all.
 * Adding and deleting a token commit with a synchronous log flush: once
 * authd has reported "created" or "deleted", the machine may lose power.
 * Last-use updates are a hint and come in batches: they commit with
 * DB_TXN_WRITE_NOSYNC, written to the kernel (so they survive a crash of
 * authd) but not forced to the disk (a power cut may lose the last few
 * seconds of them).
 *
 * The environment is DB_PRIVATE: its shared regions live in authd's heap,
 * not in files, because authd is the only process that ever opens the
 * store (DB_RECOVER requires that anyway), and so nothing stale is left
 * behind when authd dies.  Log files no longer needed are removed after
 * each checkpoint (DB_LOG_AUTO_REMOVE); store->sync checkpoints.
 *
 * Records are marshalled field by field with a version byte in front,
 * never as a C struct, so that the layout does not depend on the compiler
 * and can change with the version.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <db.h>

#include "log.h"
#include "store.h"

#define REC_VERSION	1
#define REC_MAX		1024	/* the largest record is about 710 bytes */
#define BDB_CACHE	(32 * 1024 * 1024)
#define BDB_MAX_LOCKS	20000

struct store_bdb {
	struct store	 st;		/* first: the store is a store_bdb */
	DB_ENV		*env;
	DB		*tokens;
	DB		*by_hash;
	DB		*by_addr;
	DB		*by_account;
	DB		*meta;
};

/*
 * Marshalling.
 */

struct rbuf {
	unsigned char	*p;
	size_t		 len;
	size_t		 off;
	int		 err;
};

static void
rb_put(struct rbuf *b, const void *v, size_t n)
{
	if (b->err || n > b->len - b->off) {
		b->err = 1;
		return;
	}
	memcpy(b->p + b->off, v, n);
	b->off += n;
}

static void
rb_u64(struct rbuf *b, uint64_t v)
{
	unsigned char x[8];
	int i;

	for (i = 7; i >= 0; i--) {
		x[i] = v & 0xff;
		v >>= 8;
	}
	rb_put(b, x, 8);
}

static void
rb_str(struct rbuf *b, const char *s, size_t max)
{
	unsigned char x[2];
	size_t n;

	n = strnlen(s, max);
	if (n >= max || n > 0xffff) {
		b->err = 1;
		return;
	}
	x[0] = n >> 8;
	x[1] = n & 0xff;
	rb_put(b, x, 2);
	rb_put(b, s, n);
}

static const unsigned char *
rb_get(struct rbuf *b, size_t n)
{
	const unsigned char *p;

	if (b->err || n > b->len - b->off) {
		b->err = 1;
		return NULL;
	}
	p = b->p + b->off;
	b->off += n;
	return p;
}

static uint64_t
rb_get_u64(struct rbuf *b)
{
	const unsigned char *p;
	uint64_t v = 0;
	int i;

	if ((p = rb_get(b, 8)) == NULL)
		return 0;
	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void
rb_get_str(struct rbuf *b, char *dst, size_t dstsz)
{
	const unsigned char *p;
	size_t n;

	dst[0] = '\0';
	if ((p = rb_get(b, 2)) == NULL)
		return;
	n = ((size_t)p[0] << 8) | p[1];
	if (n >= dstsz) {
		b->err = 1;
		return;
	}
	if ((p = rb_get(b, n)) == NULL)
		return;
	if (memchr(p, '\0', n) != NULL) {
		b->err = 1;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* Layout, version 1: u8 version, u64 id, 32 bytes hash, i64 created,
 * i64 last_used, then u16-length strings addr, name, account, client. */
#define REC_HASH_OFF	9

static size_t
rec_encode(const struct token_rec *r, unsigned char *buf, size_t bufsz)
{
	struct rbuf b = { buf, bufsz, 0, 0 };
	unsigned char v = REC_VERSION;

	rb_put(&b, &v, 1);
	rb_u64(&b, r->id);
	rb_put(&b, r->hash, TOKEN_HASH_LEN);
	rb_u64(&b, (uint64_t)r->created);
	rb_u64(&b, (uint64_t)r->last_used);
	rb_str(&b, r->addr, sizeof(r->addr));
	rb_str(&b, r->name, sizeof(r->name));
	rb_str(&b, r->account, sizeof(r->account));
	rb_str(&b, r->last_client, sizeof(r->last_client));
	return b.err ? 0 : b.off;
}

static int
rec_decode(const void *data, size_t len, struct token_rec *r)
{
	struct rbuf b = { (unsigned char *)(uintptr_t)data, len, 0, 0 };
	const unsigned char *p;

	memset(r, 0, sizeof(*r));
	if ((p = rb_get(&b, 1)) == NULL || *p != REC_VERSION)
		return -1;
	r->id = rb_get_u64(&b);
	if ((p = rb_get(&b, TOKEN_HASH_LEN)) != NULL)
		memcpy(r->hash, p, TOKEN_HASH_LEN);
	r->created = (int64_t)rb_get_u64(&b);
	r->last_used = (int64_t)rb_get_u64(&b);
	rb_get_str(&b, r->addr, sizeof(r->addr));
	rb_get_str(&b, r->name, sizeof(r->name));
	rb_get_str(&b, r->account, sizeof(r->account));
	rb_get_str(&b, r->last_client, sizeof(r->last_client));
	if (b.err || b.off != b.len || r->id == 0)
		return -1;
	return 0;
}

static void
id_key(uint64_t id, unsigned char k[8])
{
	int i;

	for (i = 7; i >= 0; i--) {
		k[i] = id & 0xff;
		id >>= 8;
	}
}

/* "a NUL b" into out; its length, or 0 when it does not fit. */
static size_t
pair_key(const char *a, const void *b, size_t blen, unsigned char *out,
    size_t outsz)
{
	size_t alen = strlen(a);

	if (alen + 1 + blen > outsz)
		return 0;
	memcpy(out, a, alen);
	out[alen] = '\0';
	memcpy(out + alen + 1, b, blen);
	return alen + 1 + blen;
}

/*
 * Secondary key callbacks: Berkeley DB calls them with each record it
 * writes to tokens.db.  A record that does not decode fails the write.
 */

static int
sec_hash(DB *db, const DBT *pkey, const DBT *data, DBT *skey)
{
	const unsigned char *p = data->data;

	if (data->size < REC_HASH_OFF + TOKEN_HASH_LEN || p[0] != REC_VERSION)
		return EINVAL;
	memset(skey, 0, sizeof(*skey));
	skey->data = (unsigned char *)data->data + REC_HASH_OFF;
	skey->size = TOKEN_HASH_LEN;
	return 0;
}

static int
sec_pair(const DBT *data, int account, DBT *skey)
{
	struct token_rec r;
	unsigned char k[sizeof(((struct store_pos *)0)->key)], idk[8];
	size_t n;

	if (rec_decode(data->data, data->size, &r) == -1)
		return EINVAL;
	if (account) {
		if (r.account[0] == '\0')
			return DB_DONOTINDEX;
		id_key(r.id, idk);
		n = pair_key(r.account, idk, sizeof(idk), k, sizeof(k));
	} else
		n = pair_key(r.addr, r.name, strlen(r.name), k, sizeof(k));
	if (n == 0)
		return EINVAL;
	memset(skey, 0, sizeof(*skey));
	if ((skey->data = malloc(n)) == NULL)
		return ENOMEM;
	memcpy(skey->data, k, n);
	skey->size = n;
	skey->flags = DB_DBT_APPMALLOC;	/* the library frees it */
	return 0;
}

static int
sec_addr(DB *db, const DBT *pkey, const DBT *data, DBT *skey)
{
	return sec_pair(data, 0, skey);
}

static int
sec_account(DB *db, const DBT *pkey, const DBT *data, DBT *skey)
{
	return sec_pair(data, 1, skey);
}

/*
 * Errors.  A panicked environment (DB_RUNRECOVERY) cannot be used again
 * until recovery runs, which happens when authd starts: that one is
 * fatal, and the master restarts the daemon.  Anything else is runtime
 * trouble: logged, and the caller answers "try again later".
 */
static int
bdb_fail(const char *what, int ret)
{
	if (ret == DB_RUNRECOVERY)
		fatalx("store: %s: %s", what, db_strerror(ret));
	log_warnx("store: %s: %s", what, db_strerror(ret));
	return STORE_ERROR;
}

static void
bdb_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	log_warnx("store: berkeley db: %s", msg);
}

static void
dbt_in(DBT *d, const void *p, size_t n)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)(uintptr_t)p;
	d->size = n;
}

static void
dbt_out(DBT *d, void *p, size_t n)
{
	memset(d, 0, sizeof(*d));
	d->data = p;
	d->ulen = n;
	d->flags = DB_DBT_USERMEM;
}

/*
 * The token count lives in meta.db and changes in the same transaction
 * as the tokens, so it is exact without walking the store.
 */
static int
meta_count_get(struct store_bdb *s, DB_TXN *txn, uint64_t *n, int rmw)
{
	unsigned char v[8];
	DBT key, data;
	int ret, i;

	dbt_in(&key, "count", 5);
	dbt_out(&data, v, sizeof(v));
	ret = s->meta->get(s->meta, txn, &key, &data, rmw ? DB_RMW : 0);
	if (ret == DB_NOTFOUND) {
		*n = 0;
		return 0;
	}
	if (ret != 0)
		return ret;
	if (data.size != 8)
		return EINVAL;
	for (*n = 0, i = 0; i < 8; i++)
		*n = (*n << 8) | v[i];
	return 0;
}

static int
meta_count_add(struct store_bdb *s, DB_TXN *txn, int delta)
{
	unsigned char v[8];
	DBT key, data;
	uint64_t n;
	int ret;

	if ((ret = meta_count_get(s, txn, &n, 1)) != 0)
		return ret;
	if (delta < 0 && n == 0)
		n = 0;	/* cannot happen; never wrap */
	else
		n += delta;
	id_key(n, v);
	dbt_in(&key, "count", 5);
	dbt_in(&data, v, sizeof(v));
	return s->meta->put(s->meta, txn, &key, &data, 0);
}

/*
 * Operations.
 */

static int
bdb_lookup(struct store *st, const unsigned char *hash, struct token_rec *r)
{
	struct store_bdb *s = (struct store_bdb *)st;
	unsigned char pbuf[8], dbuf[REC_MAX];
	DBT key, pkey, data;
	int ret;

	dbt_in(&key, hash, TOKEN_HASH_LEN);
	dbt_out(&pkey, pbuf, sizeof(pbuf));
	dbt_out(&data, dbuf, sizeof(dbuf));
	ret = s->by_hash->pget(s->by_hash, NULL, &key, &pkey, &data, 0);
	if (ret == DB_NOTFOUND)
		return STORE_NOTFOUND;
	if (ret != 0)
		return bdb_fail("lookup", ret);
	if (rec_decode(dbuf, data.size, r) == -1) {
		log_warnx("store: lookup: corrupt record");
		return STORE_ERROR;
	}
	/* The index found it; confirm in constant time all the same. */
	if (!token_hash_equal(r->hash, hash))
		return STORE_NOTFOUND;
	return STORE_OK;
}

static int
bdb_get_txn(struct store_bdb *s, DB_TXN *txn, uint64_t id,
    struct token_rec *r, int rmw)
{
	unsigned char k[8], dbuf[REC_MAX];
	DBT key, data;
	int ret;

	id_key(id, k);
	dbt_in(&key, k, sizeof(k));
	dbt_out(&data, dbuf, sizeof(dbuf));
	ret = s->tokens->get(s->tokens, txn, &key, &data, rmw ? DB_RMW : 0);
	if (ret == DB_NOTFOUND)
		return STORE_NOTFOUND;
	if (ret != 0)
		return bdb_fail("get", ret);
	if (rec_decode(dbuf, data.size, r) == -1 || r->id != id) {
		log_warnx("store: get: corrupt record %016llx",
		    (unsigned long long)id);
		return STORE_ERROR;
	}
	return STORE_OK;
}

static int
bdb_get(struct store *st, uint64_t id, struct token_rec *r)
{
	return bdb_get_txn((struct store_bdb *)st, NULL, id, r, 0);
}

static int
bdb_commit(DB_TXN *txn, const char *what, u_int32_t flags)
{
	int ret;

	if ((ret = txn->commit(txn, flags)) != 0)
		return bdb_fail(what, ret);
	return STORE_OK;
}

static int
bdb_abort(DB_TXN *txn, const char *what, int ret, int result)
{
	txn->abort(txn);
	if (ret != 0)
		return bdb_fail(what, ret);
	return result;
}

static int
bdb_add(struct store *st, const struct token_rec *r)
{
	struct store_bdb *s = (struct store_bdb *)st;
	unsigned char k[8], rec[REC_MAX], ak[MAX_ADDR + MAX_NAME];
	unsigned char dbuf[REC_MAX];
	DBT key, data;
	DB_TXN *txn;
	size_t len, alen;
	int ret;

	if (r->id == 0 || (len = rec_encode(r, rec, sizeof(rec))) == 0 ||
	    (alen = pair_key(r->addr, r->name, strlen(r->name), ak,
	    sizeof(ak))) == 0) {
		log_warnx("store: add: record does not fit");
		return STORE_ERROR;
	}
	if ((ret = s->env->txn_begin(s->env, NULL, &txn, 0)) != 0)
		return bdb_fail("add: begin", ret);

	/*
	 * Check the unique indexes first: a put that would duplicate a
	 * secondary key fails with a bare EINVAL, which cannot be told
	 * from real trouble.  (Gets on a secondary return the record.)
	 */
	dbt_in(&key, ak, alen);
	dbt_out(&data, dbuf, sizeof(dbuf));
	ret = s->by_addr->get(s->by_addr, txn, &key, &data, DB_RMW);
	if (ret == 0)
		return bdb_abort(txn, "add", 0, STORE_EXISTS);
	if (ret != DB_NOTFOUND)
		return bdb_abort(txn, "add: by address", ret, STORE_ERROR);
	dbt_in(&key, r->hash, TOKEN_HASH_LEN);
	dbt_out(&data, dbuf, sizeof(dbuf));
	ret = s->by_hash->get(s->by_hash, txn, &key, &data, DB_RMW);
	if (ret == 0)
		return bdb_abort(txn, "add", 0, STORE_COLLISION);
	if (ret != DB_NOTFOUND)
		return bdb_abort(txn, "add: by hash", ret, STORE_ERROR);

	id_key(r->id, k);
	dbt_in(&key, k, sizeof(k));
	dbt_in(&data, rec, len);
	ret = s->tokens->put(s->tokens, txn, &key, &data, DB_NOOVERWRITE);
	if (ret == DB_KEYEXIST)
		return bdb_abort(txn, "add", 0, STORE_COLLISION);
	if (ret != 0)
		return bdb_abort(txn, "add: put", ret, STORE_ERROR);
	if ((ret = meta_count_add(s, txn, 1)) != 0)
		return bdb_abort(txn, "add: count", ret, STORE_ERROR);
	/* Synchronous unless the environment was opened STORE_F_NOSYNC. */
	return bdb_commit(txn, "add: commit", 0);
}

/*
 * Delete the record r, whose primary key is k (8 bytes), inside txn, and
 * commit; old (if not NULL) receives r once the delete is durable.
 */
static int
bdb_del_commit(struct store_bdb *s, DB_TXN *txn, const unsigned char *k,
    const struct token_rec *r, struct token_rec *old)
{
	DBT key;
	int ret, res;

	dbt_in(&key, k, 8);
	if ((ret = s->tokens->del(s->tokens, txn, &key, 0)) != 0 ||
	    (ret = meta_count_add(s, txn, -1)) != 0)
		return bdb_abort(txn, "delete", ret, STORE_ERROR);
	if ((res = bdb_commit(txn, "delete: commit", 0)) != STORE_OK)
		return res;
	if (old != NULL)
		*old = *r;
	return STORE_OK;
}

static int
bdb_del_id(struct store *st, uint64_t id, struct token_rec *old)
{
	struct store_bdb *s = (struct store_bdb *)st;
	struct token_rec r;
	unsigned char k[8];
	DB_TXN *txn;
	int ret, res;

	if ((ret = s->env->txn_begin(s->env, NULL, &txn, 0)) != 0)
		return bdb_fail("delete: begin", ret);
	if ((res = bdb_get_txn(s, txn, id, &r, 1)) != STORE_OK)
		return bdb_abort(txn, "delete", 0, res);
	id_key(id, k);
	return bdb_del_commit(s, txn, k, &r, old);
}

static int
bdb_del_name(struct store *st, const char *addr, const char *name,
    struct token_rec *old)
{
	struct store_bdb *s = (struct store_bdb *)st;
	struct token_rec r;
	unsigned char ak[MAX_ADDR + MAX_NAME], pbuf[8], dbuf[REC_MAX];
	DBT key, pkey, data;
	DB_TXN *txn;
	size_t alen;
	int ret;

	if ((alen = pair_key(addr, name, strlen(name), ak, sizeof(ak))) == 0)
		return STORE_NOTFOUND;
	if ((ret = s->env->txn_begin(s->env, NULL, &txn, 0)) != 0)
		return bdb_fail("delete: begin", ret);
	dbt_in(&key, ak, alen);
	dbt_out(&pkey, pbuf, sizeof(pbuf));
	dbt_out(&data, dbuf, sizeof(dbuf));
	ret = s->by_addr->pget(s->by_addr, txn, &key, &pkey, &data, DB_RMW);
	if (ret == DB_NOTFOUND)
		return bdb_abort(txn, "delete", 0, STORE_NOTFOUND);
	if (ret != 0)
		return bdb_abort(txn, "delete: by address", ret, STORE_ERROR);
	if (pkey.size != 8 || rec_decode(dbuf, data.size, &r) == -1) {
		log_warnx("store: delete: corrupt record");
		return bdb_abort(txn, "delete", 0, STORE_ERROR);
	}
	return bdb_del_commit(s, txn, pbuf, &r, old);
}

/*
 * Listing.  Every listing walks one B-tree in key order: tokens.db (by
 * id), by_addr.db from "address NUL" or by_account.db from "account NUL".
 * pos keeps the last key handed out; the next call starts at it again
 * (DB_SET_RANGE) and steps over it, so no cursor stays open between
 * calls and records added or deleted meanwhile do not upset the walk.
 */
static int
bdb_list(struct store *st, const struct store_filter *f,
    struct store_pos *pos, size_t max, store_list_cb cb, void *arg)
{
	struct store_bdb *s = (struct store_bdb *)st;
	struct token_rec r;
	unsigned char prefix[MAX_ADDR + 1], kbuf[sizeof(pos->key)];
	unsigned char pbuf[8], dbuf[REC_MAX];
	const char *faddr = f ? f->addr : NULL, *facct = f ? f->account : NULL;
	DB *db;
	DBC *c;
	DBT key, pkey, data;
	size_t plen = 0, n = 0;
	u_int32_t op;
	int ret, primary = 0;

	if (pos->done)
		return 0;
	if (faddr != NULL) {
		db = s->by_addr;
		plen = pair_key(faddr, "", 0, prefix, sizeof(prefix));
	} else if (facct != NULL) {
		db = s->by_account;
		plen = pair_key(facct, "", 0, prefix, sizeof(prefix));
	} else {
		db = s->tokens;
		primary = 1;
	}
	if (!primary && plen == 0) {	/* longer than anything stored */
		pos->done = 1;
		return 0;
	}

	if ((ret = db->cursor(db, NULL, &c, 0)) != 0)
		return bdb_fail("list: cursor", ret);
	dbt_out(&key, kbuf, sizeof(kbuf));
	dbt_out(&pkey, pbuf, sizeof(pbuf));
	dbt_out(&data, dbuf, sizeof(dbuf));
	if (pos->started) {
		memcpy(kbuf, pos->key, pos->keylen);
		key.size = pos->keylen;
		op = DB_SET_RANGE;
	} else if (primary)
		op = DB_FIRST;
	else {
		memcpy(kbuf, prefix, plen);
		key.size = plen;
		op = DB_SET_RANGE;
	}

	for (;; op = DB_NEXT) {
		if (primary)
			ret = c->get(c, &key, &data, op);
		else
			ret = c->pget(c, &key, &pkey, &data, op);
		if (ret == DB_NOTFOUND ||
		    (ret == 0 && !primary && (key.size < plen ||
		    memcmp(kbuf, prefix, plen) != 0))) {
			pos->done = 1;
			break;
		}
		if (ret != 0) {
			c->close(c);
			return bdb_fail("list", ret);
		}
		if (pos->started && key.size == pos->keylen &&
		    memcmp(kbuf, pos->key, key.size) == 0)
			continue;	/* handed out by the last call */
		if (n == max)
			break;
		if (key.size > sizeof(pos->key) ||
		    rec_decode(dbuf, data.size, &r) == -1) {
			c->close(c);
			log_warnx("store: list: corrupt record");
			return STORE_ERROR;
		}
		memcpy(pos->key, kbuf, key.size);
		pos->keylen = key.size;
		pos->started = 1;
		if (facct != NULL && strcmp(r.account, facct) != 0)
			continue;
		cb(&r, arg);
		n++;
	}
	c->close(c);
	return (int)n;
}

static int
bdb_record_use(struct store *st, const struct token_use *u, size_t n)
{
	struct store_bdb *s = (struct store_bdb *)st;
	struct token_rec r;
	unsigned char k[8], rec[REC_MAX];
	DBT key, data;
	DB_TXN *txn;
	size_t i, len;
	int ret, res;

	if (n == 0)
		return STORE_OK;
	if ((ret = s->env->txn_begin(s->env, NULL, &txn, 0)) != 0)
		return bdb_fail("last use: begin", ret);
	for (i = 0; i < n; i++) {
		res = bdb_get_txn(s, txn, u[i].id, &r, 1);
		if (res == STORE_NOTFOUND)
			continue;	/* deleted since it was used */
		if (res != STORE_OK)
			return bdb_abort(txn, "last use", 0, res);
		if (u[i].when < r.last_used)
			continue;
		r.last_used = u[i].when;
		if (strlcpy(r.last_client, u[i].client,
		    sizeof(r.last_client)) >= sizeof(r.last_client))
			r.last_client[0] = '\0';
		if ((len = rec_encode(&r, rec, sizeof(rec))) == 0)
			return bdb_abort(txn, "last use: encode", 0,
			    STORE_ERROR);
		id_key(r.id, k);
		dbt_in(&key, k, sizeof(k));
		dbt_in(&data, rec, len);
		if ((ret = s->tokens->put(s->tokens, txn, &key, &data, 0)) != 0)
			return bdb_abort(txn, "last use: put", ret,
			    STORE_ERROR);
	}
	/* Written to the kernel, not forced to the disk: see the top. */
	return bdb_commit(txn, "last use: commit", DB_TXN_WRITE_NOSYNC);
}

static void
count_cb(const struct token_rec *r, void *arg)
{
	(*(uint64_t *)arg)++;
}

static int
bdb_count(struct store *st, const struct store_filter *f, uint64_t *np)
{
	struct store_bdb *s = (struct store_bdb *)st;
	struct store_pos pos;
	uint64_t n = 0;
	int ret;

	if (f == NULL || (f->addr == NULL && f->account == NULL)) {
		if ((ret = meta_count_get(s, NULL, np, 0)) != 0)
			return bdb_fail("count", ret);
		return STORE_OK;
	}
	memset(&pos, 0, sizeof(pos));
	while (!pos.done)
		if (bdb_list(st, f, &pos, 1000, count_cb, &n) == STORE_ERROR)
			return STORE_ERROR;
	*np = n;
	return STORE_OK;
}

static int
bdb_sync(struct store *st)
{
	struct store_bdb *s = (struct store_bdb *)st;
	int ret;

	/* A checkpoint when 1 MB of log or a minute has gone by: it bounds
	 * the time recovery takes and lets old log files be removed. */
	if ((ret = s->env->txn_checkpoint(s->env, 1024, 1, 0)) != 0)
		return bdb_fail("checkpoint", ret);
	return STORE_OK;
}

static void
bdb_close_db(DB **dbp)
{
	if (*dbp != NULL)
		(*dbp)->close(*dbp, 0);
	*dbp = NULL;
}

static void
bdb_close(struct store *st)
{
	struct store_bdb *s = (struct store_bdb *)st;

	if (s == NULL)
		return;
	if (s->env != NULL && s->tokens != NULL)
		s->env->txn_checkpoint(s->env, 0, 0, DB_FORCE);
	bdb_close_db(&s->by_hash);
	bdb_close_db(&s->by_addr);
	bdb_close_db(&s->by_account);
	bdb_close_db(&s->tokens);
	bdb_close_db(&s->meta);
	if (s->env != NULL)
		s->env->close(s->env, 0);
	free(s);
}

static int
bdb_open_db(struct store_bdb *s, DB **dbp, const char *file, DBTYPE type)
{
	DB *db;
	int ret;

	if ((ret = db_create(&db, s->env, 0)) != 0)
		return ret;
	/* Each open commits on its own: the handle outlives any later
	 * failure and is closed with the others. */
	if ((ret = db->open(db, NULL, file, NULL, type,
	    DB_CREATE | DB_AUTO_COMMIT, 0600)) != 0) {
		log_warnx("store: %s: %s", file, db_strerror(ret));
		db->close(db, 0);
		return ret;
	}
	*dbp = db;
	return 0;
}

static int
bdb_open_all(struct store_bdb *s)
{
	DB_TXN *txn;
	int ret;

	if ((ret = bdb_open_db(s, &s->tokens, "tokens.db", DB_BTREE)) != 0 ||
	    (ret = bdb_open_db(s, &s->by_hash, "by_hash.db", DB_HASH)) != 0 ||
	    (ret = bdb_open_db(s, &s->by_addr, "by_addr.db", DB_BTREE)) != 0 ||
	    (ret = bdb_open_db(s, &s->by_account, "by_account.db",
	    DB_BTREE)) != 0 ||
	    (ret = bdb_open_db(s, &s->meta, "meta.db", DB_BTREE)) != 0)
		return ret;
	/*
	 * The secondary keys never change once a token exists (only its
	 * last use does): DB_IMMUTABLE_KEY spares the index work on every
	 * last-use write.  DB_CREATE builds an index that is missing.
	 */
	if ((ret = s->env->txn_begin(s->env, NULL, &txn, 0)) != 0)
		return ret;
	if ((ret = s->tokens->associate(s->tokens, txn, s->by_hash, sec_hash,
	    DB_CREATE | DB_IMMUTABLE_KEY)) != 0 ||
	    (ret = s->tokens->associate(s->tokens, txn, s->by_addr, sec_addr,
	    DB_CREATE | DB_IMMUTABLE_KEY)) != 0 ||
	    (ret = s->tokens->associate(s->tokens, txn, s->by_account,
	    sec_account, DB_CREATE | DB_IMMUTABLE_KEY)) != 0) {
		txn->abort(txn);
		return ret;
	}
	return txn->commit(txn, 0);
}

struct store *
store_bdb_open(const char *home, int flags)
{
	struct store_bdb *s;
	struct stat sb;
	u_int32_t envflags;
	int ret;

	/* Say plainly what is wrong, rather than let the library panic. */
	if (stat(home, &sb) == -1) {
		log_warn("store: %s", home);
		return NULL;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_warnx("store: %s: not a directory", home);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("store: calloc");
		return NULL;
	}
	s->st.kind = "bdb";
	s->st.lookup = bdb_lookup;
	s->st.get = bdb_get;
	s->st.add = bdb_add;
	s->st.del_id = bdb_del_id;
	s->st.del_name = bdb_del_name;
	s->st.list = bdb_list;
	s->st.record_use = bdb_record_use;
	s->st.count = bdb_count;
	s->st.sync = bdb_sync;
	s->st.close = bdb_close;

	if ((ret = db_env_create(&s->env, 0)) != 0)
		goto fail;
	s->env->set_errcall(s->env, bdb_errcall);
	/* Its own directory for temporary files: a chroot has no /tmp. */
	if ((ret = s->env->set_tmp_dir(s->env, home)) != 0 ||
	    (ret = s->env->set_cachesize(s->env, 0, BDB_CACHE, 1)) != 0 ||
	    (ret = s->env->set_lk_detect(s->env, DB_LOCK_DEFAULT)) != 0 ||
	    (ret = s->env->set_lk_max_locks(s->env, BDB_MAX_LOCKS)) != 0 ||
	    (ret = s->env->set_lk_max_objects(s->env, BDB_MAX_LOCKS)) != 0 ||
	    (ret = s->env->log_set_config(s->env, DB_LOG_AUTO_REMOVE, 1)) != 0)
		goto fail;
	if ((flags & STORE_F_NOSYNC) &&
	    (ret = s->env->set_flags(s->env, DB_TXN_NOSYNC, 1)) != 0)
		goto fail;
	envflags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOG | DB_INIT_LOCK |
	    DB_INIT_MPOOL | DB_RECOVER | DB_PRIVATE;
	if ((ret = s->env->open(s->env, home, envflags, 0600)) != 0)
		goto fail;
	if ((ret = bdb_open_all(s)) != 0)
		goto fail;
	return &s->st;
 fail:
	log_warnx("store: %s: %s", home, db_strerror(ret));
	bdb_close(&s->st);
	return NULL;
}
