/*
 * dkim_key.c: see dkim_key.h.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dkim_key.h"

static void keyerr(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
keyerr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

const char *
dkim_key_alg_word(enum dkim_alg alg)
{
	return alg == DKIM_ED25519 ? "ed25519" : "rsa";
}

int
dkim_name_ok(const char *s)
{
	size_t i, len = strlen(s), label = 0;

	if (len == 0 || len > 253 || s[0] == '-' || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

int
dkim_key_path(char *out, size_t outsz, const char *dir, const char *domain,
    const char *selector, enum dkim_alg alg)
{
	int n;

	if (!dkim_name_ok(domain) || !dkim_name_ok(selector))
		return -1;
	n = snprintf(out, outsz, "%s/%s/%s.%s.key", dir, domain, selector,
	    dkim_key_alg_word(alg));
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	return 0;
}

int
dkim_key_file(char *out, size_t outsz, const char *selector,
    enum dkim_alg alg)
{
	int n;

	if (!dkim_name_ok(selector))
		return -1;
	n = snprintf(out, outsz, "%s.%s.key", selector,
	    dkim_key_alg_word(alg));
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	return 0;
}

EVP_PKEY *
dkim_key_generate(enum dkim_alg alg, int bits, char *err, size_t errsz)
{
	EVP_PKEY *key = NULL;

	if (alg == DKIM_ED25519) {
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		if (bits == 0)
			bits = DKIM_RSA_DEF_BITS;
		if (bits < DKIM_RSA_MIN_BITS || bits > DKIM_RSA_MAX_BITS) {
			keyerr(err, errsz, "RSA key size must be %d to %d "
			    "bits", DKIM_RSA_MIN_BITS, DKIM_RSA_MAX_BITS);
			return NULL;
		}
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	}
	if (key == NULL)
		keyerr(err, errsz, "key generation failed");
	return key;
}

int
dkim_key_writeat(int dirfd, const char *name, EVP_PKEY *key, uid_t uid,
    gid_t gid, char *err, size_t errsz)
{
	char tmp[NAME_MAX + 1];
	BIO *bio = NULL;
	int fd = -1, n, ok = 0;

	if (name[0] == '\0' || strchr(name, '/') != NULL) {
		keyerr(err, errsz, "%s: not a file name", name);
		return -1;
	}
	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", name, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		keyerr(err, errsz, "%s: name too long", name);
		return -1;
	}
	/*
	 * 0400 and root's from the start, the group's read bit only once
	 * the group is signd's: the key is never readable by anyone else.
	 */
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0400);
	if (fd == -1) {
		keyerr(err, errsz, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (fchown(fd, uid, gid) == -1 || fchmod(fd, 0440) == -1) {
		keyerr(err, errsz, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if ((bio = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
	    NULL) != 1 || BIO_flush(bio) != 1) {
		keyerr(err, errsz, "%s: cannot write the key", tmp);
		goto fail;
	}
	if (fsync(fd) == -1) {
		keyerr(err, errsz, "%s: fsync: %s", tmp, strerror(errno));
		goto fail;
	}
	/* no AT_SYMLINK_FOLLOW: a link named name is EEXIST, never followed */
	if (linkat(dirfd, tmp, dirfd, name, 0) == -1) {
		keyerr(err, errsz, "%s: %s", name, errno == EEXIST ?
		    "a key of that name exists already" : strerror(errno));
		goto fail;
	}
	ok = 1;
	if (fsync(dirfd) == -1) {
		keyerr(err, errsz, "%s: directory fsync: %s", name,
		    strerror(errno));
		ok = 0;
	}
fail:
	BIO_free(bio);
	close(fd);
	(void)unlinkat(dirfd, tmp, 0);
	return ok ? 0 : -1;
}

int
dkim_key_write(const char *path, EVP_PKEY *key, uid_t uid, gid_t gid,
    char *err, size_t errsz)
{
	char dir[PATH_MAX];
	const char *name;
	char *slash;
	int dirfd, rv;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir)) {
		keyerr(err, errsz, "path too long");
		return -1;
	}
	if ((slash = strrchr(dir, '/')) == NULL) {
		name = path;
		(void)strlcpy(dir, ".", sizeof(dir));
	} else {
		name = path + (slash - dir) + 1;
		if (slash == dir)
			slash++;
		*slash = '\0';
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd == -1) {
		keyerr(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	rv = dkim_key_writeat(dirfd, name, key, uid, gid, err, errsz);
	close(dirfd);
	return rv;
}

EVP_PKEY *
dkim_key_load(const char *path, enum dkim_alg alg, char *err, size_t errsz)
{
	EVP_PKEY *key = NULL;
	BIO *bio;
	int bits;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		keyerr(err, errsz, "%s: %s", path, strerror(errno));
		ERR_clear_error();
		return NULL;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key == NULL) {
		keyerr(err, errsz, "%s: not a PEM private key", path);
		ERR_clear_error();
		return NULL;
	}
	if (alg == DKIM_ED25519) {
		if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
			keyerr(err, errsz, "%s: not an ed25519 key", path);
			goto fail;
		}
		return key;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		keyerr(err, errsz, "%s: not an RSA key", path);
		goto fail;
	}
	bits = EVP_PKEY_get_bits(key);
	if (bits < DKIM_RSA_LOAD_MIN_BITS || bits > DKIM_RSA_MAX_BITS) {
		keyerr(err, errsz, "%s: RSA key of %d bits (accepted: %d to "
		    "%d)", path, bits, DKIM_RSA_LOAD_MIN_BITS,
		    DKIM_RSA_MAX_BITS);
		goto fail;
	}
	return key;
fail:
	EVP_PKEY_free(key);
	return NULL;
}

int
dkim_key_record(EVP_PKEY *key, char *out, size_t outsz)
{
	unsigned char der[1024], *p;
	char b64[((sizeof(der) + 2) / 3) * 4 + 1];
	size_t len = sizeof(der);
	const char *k;
	int n;

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		k = "ed25519";
		if (EVP_PKEY_get_raw_public_key(key, der, &len) != 1 ||
		    len != 32)
			return -1;
	} else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
		k = "rsa";
		if ((n = i2d_PUBKEY(key, NULL)) <= 0 ||
		    (size_t)n > sizeof(der))
			return -1;
		p = der;
		if (i2d_PUBKEY(key, &p) != n)
			return -1;
		len = n;
	} else
		return -1;
	EVP_EncodeBlock((unsigned char *)b64, der, len);
	n = snprintf(out, outsz, "v=DKIM1; k=%s; p=%s", k, b64);
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	return 0;
}

int
dkim_key_zone(const char *rec, char *out, size_t outsz)
{
	size_t len = strlen(rec), o = 0, k;

	/* no quoting inside: a record is base64 and tag text only */
	if (strpbrk(rec, "\"\\") != NULL)
		return -1;
	while (len > 0) {
		k = len > 255 ? 255 : len;
		if (o + (o > 0) + k + 2 + 1 > outsz)
			return -1;
		if (o > 0)
			out[o++] = ' ';
		out[o++] = '"';
		memcpy(out + o, rec, k);
		o += k;
		out[o++] = '"';
		rec += k;
		len -= k;
	}
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	return 0;
}
