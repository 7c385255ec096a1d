/*
 * ctl_json.c: the one JSON string writer of posternctl's --json output,
 * for the answers of the daemon (posternctl.c) and for dkim keygen's
 * (ctl_dkim.c) alike.
 *
 * void ctl_json_str(f, s)
 *	Write s to f as a JSON string, quotes included.  '"' and '\' are
 *	escaped; control characters (C0 and DEL) become \u00XX; a byte that
 *	is not part of well-formed UTF-8 (lib/utf8.c; C1 controls and
 *	surrogates included) cannot be carried by JSON text and becomes
 *	\ufffd, so that the output always parses, whatever the text came
 *	from (a queued message's headers, a remote server's reply, a path).
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "utf8.h"

void
ctl_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i, n;

	putc('"', f);
	for (i = 0; i < len; i += n) {
		n = 1;
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			fprintf(f, "\\u%04x", p[i]);
		else if (p[i] < 0x80)
			putc(p[i], f);
		else if ((n = utf8_seqlen(p + i, len - i)) == 0) {
			fputs("\\ufffd", f);
			n = 1;
		} else
			fwrite(p + i, 1, n, f);
	}
	putc('"', f);
}
