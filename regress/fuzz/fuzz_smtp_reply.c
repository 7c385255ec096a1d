/*
 * fuzz_smtp_reply: the input, cut at LF (a CR before it removed), is fed
 * line by line as a remote server's replies; what is kept must stay
 * within its bounds and be clean text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_complete(const struct smtp_reply *r)
{
	struct smtp_ehlo	 e;
	char			 text[512];
	const char		*s;
	size_t			 i, n;

	if (r->code < 200 || r->code > 599 || r->nkept > r->nlines ||
	    r->nkept > SMTP_REPLY_KEEP_LINES || r->textlen > SMTP_REPLY_TEXT_MAX ||
	    memchr(r->enhanced, '\0', sizeof(r->enhanced)) == NULL ||
	    (r->enhanced[0] != '\0' && r->enhanced[0] != '0' + r->code / 100))
		abort();
	for (i = 0; i < r->nkept; i++) {
		s = smtp_reply_line(r, i);
		for (; *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
				abort();
	}
	n = smtp_reply_text(r, text, sizeof(text));
	if (n >= sizeof(text) || strlen(text) != n)
		abort();
	if (smtp_ehlo_parse(r, &e) == 0 && r->code / 100 != 2)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply	 r;
	const uint8_t		*p = data, *end = data + size, *nl;
	char			*line;
	size_t			 len;
	int			 rc;

	smtp_reply_init(&r);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl != NULL ? nl : end) - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		/* exact-size copy: ASan catches any read past the line */
		if ((line = malloc(len ? len : 1)) == NULL)
			abort();
		memcpy(line, p, len);
		rc = smtp_reply_feed_line(&r, line, len);
		free(line);
		if (rc == SMTP_REPLY_ERROR) {
			if (r.err == NULL)
				abort();
			break;
		}
		if (rc == SMTP_REPLY_COMPLETE)
			check_complete(&r);
		else if (rc != SMTP_REPLY_NEED_MORE)
			abort();
		p = nl != NULL ? nl + 1 : end;
	}
	return 0;
}
