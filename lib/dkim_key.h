/*
 * dkim_key: DKIM private keys on disk and the DNS records that publish
 * them.
 *
 * Where keys live.  In the dkim-dir, one directory per domain, one file
 * per selector and algorithm:
 *
 *	<dkim-dir>/<domain>/<selector>.<rsa|ed25519>.key
 *
 * PEM (PKCS#8 "PRIVATE KEY"), owned by root with signd's group and mode
 * 0440, in directories owned by root with that group and mode 0750.
 * signd is chrooted to the dkim-dir and reads there through its group;
 * it owns nothing there, so it can neither chmod nor rewrite a key nor
 * swap a directory for a link.  Keys are made by root in posternctl
 * (dkim_key_generate, dkim_key_writeat), never by signd.
 *
 * EVP_PKEY *dkim_key_generate(alg, bits, err, errsz)
 *	A new key: RSA of `bits' bits (DKIM_RSA_MIN_BITS .. DKIM_RSA_MAX_BITS;
 *	0 means DKIM_RSA_DEF_BITS), or Ed25519 (bits ignored).  The policy
 *	of refusing short RSA keys belongs to the caller (posternctl asks for
 *	2048 or more, see ctl_dkim.c).  NULL with a reason on failure.
 *
 * int dkim_key_writeat(dirfd, name, key, uid, gid, err, errsz)
 *	Write key as `name' (a file name, no '/') in the directory open as
 *	dirfd, without ever leaving a partial or too readable file: a
 *	temporary file in that directory is created with O_EXCL|O_NOFOLLOW
 *	and mode 0400, fchowned to uid:gid and only then fchmodded to 0440,
 *	written, fsynced, then linked to name and unlinked.  Every step is
 *	relative to dirfd and never follows a link, so a directory swapped
 *	for a link after the caller opened it cannot send the key (or
 *	root's chown) anywhere else.  linkat() rather than renameat()
 *	because a rename would silently replace a key of the same name
 *	whose public half may already be in the DNS; linkat() fails with
 *	EEXIST instead, also when name is a link.  dirfd is fsynced last.
 *	Returns 0, or -1 with a reason (the temporary file is removed).
 *
 * int dkim_key_write(path, key, uid, gid, err, errsz)
 *	dkim_key_writeat() into the directory of path, opened without
 *	following a link in its last component.  For tests and tools whose
 *	directories no one else can write.
 *
 * EVP_PKEY *dkim_key_load(path, alg, err, errsz)
 *	Read a PEM private key and check that it is of the algorithm
 *	expected and, for RSA, of DKIM_RSA_LOAD_MIN_BITS .. DKIM_RSA_MAX_BITS
 *	bits (RFC 8301: verifiers accept 1024 to 4096; a legacy 1024-bit key
 *	loads, generation makes 2048 or more).  NULL with a reason.
 *
 * int dkim_key_record(key, out, outsz)
 *	The TXT record text: "v=DKIM1; k=rsa; p=<base64 of the DER
 *	SubjectPublicKeyInfo>" or "v=DKIM1; k=ed25519; p=<base64 of the raw
 *	32-byte public key>" (RFC 8463 3).  0, or -1 when out is too small.
 *
 * int dkim_key_zone(record, out, outsz)
 *	The record as zone-file character-strings: each at most 255 bytes,
 *	quoted, separated by one space ("v=DKIM1; ... p=MIIB" "IjANB...").
 *	0, or -1 when out is too small.
 *
 * int dkim_key_path(out, outsz, dir, domain, selector, alg)
 *	"<dir>/<domain>/<selector>.<alg>.key" after checking domain and
 *	selector are names that cannot leave the directory (dkim_name_ok).
 *	0, or -1.
 *
 * int dkim_key_file(out, outsz, selector, alg)
 *	The file name alone, "<selector>.<alg>.key", after the same check.
 *	0, or -1.
 *
 * int dkim_name_ok(name)
 *	1 if name is a plausible domain or selector: 1 to 253 bytes of
 *	letters, digits, '-', '_' and '.', no empty label, not starting with
 *	'-'; so never "..", "/" or a NUL.  0 otherwise.
 *
 * const char *dkim_key_alg_word(alg)	"rsa" or "ed25519"
 */
#ifndef POSTERN_DKIM_KEY_H
#define POSTERN_DKIM_KEY_H

#include <sys/types.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "config.h"

#define DKIM_RSA_DEF_BITS	2048
#define DKIM_RSA_MIN_BITS	1024
#define DKIM_RSA_MAX_BITS	4096
#define DKIM_RSA_LOAD_MIN_BITS	1024
#define DKIM_RECORD_MAX		1024	/* record text of a 4096-bit key fits */

EVP_PKEY *dkim_key_generate(enum dkim_alg, int bits, char *err, size_t errsz);
int	dkim_key_writeat(int dirfd, const char *name, EVP_PKEY *, uid_t, gid_t,
	    char *err, size_t errsz);
int	dkim_key_write(const char *path, EVP_PKEY *, uid_t, gid_t, char *err,
	    size_t errsz);
EVP_PKEY *dkim_key_load(const char *path, enum dkim_alg, char *err,
	    size_t errsz);
int	dkim_key_record(EVP_PKEY *, char *out, size_t outsz);
int	dkim_key_zone(const char *record, char *out, size_t outsz);
int	dkim_key_path(char *out, size_t outsz, const char *dir,
	    const char *domain, const char *selector, enum dkim_alg);
int	dkim_key_file(char *out, size_t outsz, const char *selector,
	    enum dkim_alg);
int	dkim_name_ok(const char *);
const char *dkim_key_alg_word(enum dkim_alg);

#endif
