/*
 * dkim_sign: DKIM-Signature header fields (RFC 6376, RFC 8463) for a
 * message read from a file descriptor.
 *
 *	int	dkim_msg_read(struct dkim_msg *m, int fd, size_t maxhdr,
 *		    char *err, size_t errsz)
 *	void	dkim_msg_free(struct dkim_msg *m)
 *	size_t	dkim_msg_count(const struct dkim_msg *m, const char *name,
 *		    size_t *lastp)
 *	int	dkim_sign(const struct dkim_msg *m, const struct dkim_params *p,
 *		    const struct dkim_signer *s, size_t ns,
 *		    char *out, size_t outsz, size_t *outlen,
 *		    char *err, size_t errsz)
 *
 * The message is the whole of it, CRLF line ends: header fields, an empty
 * line, the body.  dkim_msg_read() reads only the header section, with
 * pread() from offset 0 (the descriptor's offset is not used or moved),
 * into memory of at most maxhdr bytes, and indexes its fields; the body is
 * left on disk.  dkim_sign() then reads the body with pread() in fixed
 * chunks through the body canonicalizer into one SHA-256 shared by all ns
 * signers (they all use p->canon), and writes ns DKIM-Signature fields,
 * each ending in CRLF, to out.  So memory is bounded by maxhdr plus one
 * chunk whatever the size of the body.  The caller owns the descriptor.
 * One field is about 1 KB for RSA-2048 with the default h= list; a 64 KB
 * out is plenty for two (out is NUL-terminated).
 *
 * The signed header list (h=) is p->headers (or DKIM_DEFAULT_HEADERS when
 * empty), case-insensitive and without repeats, From always first: each
 * name is listed as many times as it occurs in the message, so that every
 * instance is signed (RFC 6376 5.4.2 picks instances from the bottom up),
 * names that do not occur are left out, and From is listed once more than
 * it occurs, so that a From: added later breaks the signature.
 * DKIM-Signature itself is never listed.
 *
 * The field is folded with CRLF TAB so that no line passes 78 columns
 * (the TAB counted as 8), b= last; t= is p->now, x= is t + p->expire when
 * p->expire is not 0.  rsa-sha256 signs the SHA-256 of the header data
 * with PKCS#1 v1.5 (EVP_PKEY_sign with the digest set: the same bytes
 * EVP_DigestSign would make); ed25519-sha256 (RFC 8463) signs the 32-byte
 * SHA-256 digest itself with PureEdDSA.
 *
 * Return values: DKIM_OK; DKIM_EMSG when the message cannot be signed as
 * it is (header section too large, a malformed header line, a NUL, a lone
 * CR or LF among the headers), a permanent failure; DKIM_ESYS when reading
 * or a key operation failed, a temporary one.  err gets a short reason
 * without the message's bytes in it.
 */
#ifndef POSTERN_DKIM_SIGN_H
#define POSTERN_DKIM_SIGN_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "config.h"
#include "dkim_canon.h"

#define DKIM_OK		0
#define DKIM_EMSG	(-1)
#define DKIM_ESYS	(-2)

#define DKIM_MAX_HEADER		(1024 * 1024)	/* header section held */
#define DKIM_MAX_FIELDS		4096
#define DKIM_READ_CHUNK		65536		/* body read size */
#define DKIM_LINE_MAX		78		/* folded line, CRLF excluded */

#define DKIM_DEFAULT_HEADERS						\
	"From", "Sender", "Reply-To", "Subject", "Date", "Message-ID",	\
	"To", "Cc", "In-Reply-To", "References", "MIME-Version",	\
	"Content-Type", "Content-Transfer-Encoding", "Content-Disposition", \
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"

struct dkim_field {
	size_t		 off;		/* in hbuf */
	size_t		 len;		/* the field without its final CRLF */
	size_t		 namelen;	/* the name, WSP before ':' excluded */
};

struct dkim_msg {
	int		 fd;
	char		*hbuf;
	size_t		 hlen;		/* the fields, last CRLF excluded */
	size_t		 hblock;	/* the fields, last CRLF included
					   (as lib/mailhdr.h reads them) */
	struct dkim_field *fields;
	size_t		 nfields;
	off_t		 body_off;	/* where the body begins in fd */
};

struct dkim_signer {
	enum dkim_alg	 alg;
	const char	*domain;
	const char	*selector;
	EVP_PKEY	*key;
};

struct dkim_params {
	enum dkim_canon	 canon;		/* header and body */
	time_t		 now;		/* t= */
	time_t		 expire;	/* 0: no x= */
	char *const	*headers;	/* names to sign; NULL: default */
	int		 nheaders;
};

int	dkim_msg_read(struct dkim_msg *, int fd, size_t maxhdr, char *err,
	    size_t errsz);
void	dkim_msg_free(struct dkim_msg *);
/* Fields named name (any case); *lastp (if not NULL) the index of the
 * last one. */
size_t	dkim_msg_count(const struct dkim_msg *, const char *name,
	    size_t *lastp);
/* The value of field i (after the colon, folding included). */
const char *dkim_msg_value(const struct dkim_msg *, size_t i, size_t *lenp);

int	dkim_sign(const struct dkim_msg *, const struct dkim_params *,
	    const struct dkim_signer *, size_t ns, char *out, size_t outsz,
	    size_t *outlen, char *err, size_t errsz);

/*
 * The pieces, for known-answer tests and the benchmark: the body hash of
 * the message; the header hash for an h= list given as written and a
 * signature field ending in "b=" (as hashed: without CRLF); and one
 * signature over a SHA-256 digest.
 */
int	dkim_body_hash(const struct dkim_msg *, enum dkim_canon,
	    unsigned char digest[32], char *err, size_t errsz);
int	dkim_header_hash(const struct dkim_msg *, enum dkim_canon,
	    const char *hlist, const char *sigfield, size_t siglen,
	    unsigned char digest[32]);
int	dkim_sign_digest(EVP_PKEY *, enum dkim_alg, const unsigned char[32],
	    unsigned char *sig, size_t *siglen);
const char *dkim_alg_name(enum dkim_alg);	/* "rsa-sha256" ... */

#endif
