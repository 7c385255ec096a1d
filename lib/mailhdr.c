/*
 * mailhdr.c: header fields of a message.  See mailhdr.h for the contract.
 */
#include <limits.h>
#include <string.h>

#include "addr.h"
#include "mailhdr.h"

static const char E_MALFORMED[] = "malformed header";
static const char E_TOOLONG[] = "address too long";

/*
 * The sender rule's messages name the field for the fields it is applied
 * to; a static table keeps err a static string.
 */
static const struct {
	const char *name;
	const char *absent;
	const char *several;
	const char *notone;
} single_errs[] = {
    {"From", "no From: header", "more than one From: header",
     "From: must hold exactly one mailbox"},
    {"Sender", "no Sender: header", "more than one Sender: header",
     "Sender: must hold exactly one mailbox"},
    {"Resent-From", "no Resent-From: header",
     "more than one Resent-From: header",
     "Resent-From: must hold exactly one mailbox"},
    {"Resent-Sender", "no Resent-Sender: header",
     "more than one Resent-Sender: header",
     "Resent-Sender: must hold exactly one mailbox"},
    {NULL, "no such header field", "header field occurs more than once",
     "header field must hold exactly one mailbox"},
};

static int
ascii_caseeq(const char *a, const char *b, size_t n)
{
	size_t i;
	unsigned char ca, cb;

	for (i = 0; i < n; i++) {
		ca = a[i];
		cb = b[i];
		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return 0;
	}
	return 1;
}

int
mailhdr_next(const char *hdr, size_t len, size_t *off, struct mailhdr_field *f)
{
	size_t i = *off, start = *off, namelen, vend;

	if (i > len)
		return -1;
	if (i == len)
		return 0;
	while (i < len && hdr[i] != ':') {
		if ((unsigned char)hdr[i] < 33 || (unsigned char)hdr[i] > 126)
			return -1;
		i++;
	}
	if (i == start || i == len)
		return -1;
	namelen = i - start;
	i++;
	/* The value: lines until one that does not continue the field. */
	for (;;) {
		while (i < len && hdr[i] != '\r' && hdr[i] != '\n' &&
		       hdr[i] != '\0')
			i++;
		if (i + 1 >= len || hdr[i] != '\r' || hdr[i + 1] != '\n')
			return -1;
		vend = i;
		i += 2;
		if (i >= len || (hdr[i] != ' ' && hdr[i] != '\t'))
			break;
	}
	f->name = hdr + start;
	f->namelen = namelen;
	f->value = hdr + start + namelen + 1;
	f->valuelen = vend - (start + namelen + 1);
	f->raw = hdr + start;
	f->rawlen = i - start;
	*off = i;
	return 1;
}

int
mailhdr_name_is(const struct mailhdr_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->namelen == n && ascii_caseeq(f->name, name, n);
}

/*
 * Walk the whole block: the first field named name into *first (if not
 * NULL), their number into *count.  0, or -1 if malformed anywhere.
 */
static int
mailhdr_scan(const char *hdr, size_t len, const char *name, int *count,
	     struct mailhdr_field *first)
{
	struct mailhdr_field f;
	size_t off = 0;
	int r;

	*count = 0;
	while ((r = mailhdr_next(hdr, len, &off, &f)) == 1) {
		if (!mailhdr_name_is(&f, name))
			continue;
		if (*count == 0 && first != NULL)
			*first = f;
		if (*count < INT_MAX)
			(*count)++;
	}
	return r;
}

int
mailhdr_count(const char *hdr, size_t len, const char *name)
{
	int n;

	if (mailhdr_scan(hdr, len, name, &n, NULL) == -1)
		return -1;
	return n;
}

int
mailhdr_get(const char *hdr, size_t len, const char *name,
	    struct mailhdr_field *f)
{
	int n;

	if (mailhdr_scan(hdr, len, name, &n, f) == -1)
		return -1;
	return n > 0;
}

int
mailhdr_single_mailbox(const char *hdr, size_t len, const char *name,
		       char *addr, size_t addrsz, const char **err)
{
	struct mailhdr_field f;
	struct mailbox mb;
	const char *e;
	size_t k;
	int n, r;

	if (addrsz > 0)
		addr[0] = '\0';
	for (k = 0; single_errs[k].name != NULL; k++)
		if (ascii_caseeq(single_errs[k].name, name,
				 strlen(single_errs[k].name) + 1))
			break;
	if (mailhdr_scan(hdr, len, name, &n, &f) == -1) {
		e = E_MALFORMED;
		goto fail;
	}
	if (n == 0) {
		if (err != NULL)
			*err = single_errs[k].absent;
		return 1;
	}
	if (n > 1) {
		e = single_errs[k].several;
		goto fail;
	}
	if ((r = addr_parse_mailbox(f.value, f.valuelen, &mb, &e)) != 0) {
		if (r == -2)
			e = single_errs[k].notone;
		goto fail;
	}
	if ((k = strlen(mb.addr)) >= addrsz) {
		e = E_TOOLONG;
		goto fail;
	}
	memcpy(addr, mb.addr, k + 1);
	return 0;
fail:
	if (err != NULL)
		*err = e;
	return -1;
}
