/*
 * fuzz_smtp_cmd: any line through smtp_cmd_parse(); every refusal must be
 * a well-formed reply and every result must stay inside its buffers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_cmd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
reply_ok(const struct smtp_err *e)
{
	switch (e->code) {
	case 500: case 501: case 552: case 553: case 555:
		break;
	default:
		return 0;
	}
	return e->enhanced != NULL && e->text != NULL && e->text[0] != '\0' &&
	    strpbrk(e->text, "\r\n") == NULL && e->enhanced[0] ==
	    '0' + e->code / 100;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd	 cmd;
	const char	*line;
	char		*copy;

	/* an exact-size copy, so that ASan sees any read past the end */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	line = copy;
	if (smtp_cmd_parse(line, size, &cmd) == -1) {
		if (!reply_ok(&cmd.err))
			abort();
	} else {
		if (cmd.verb == SMTP_UNKNOWN ||
		    memchr(cmd.domain, '\0', sizeof(cmd.domain)) == NULL ||
		    memchr(cmd.path, '\0', sizeof(cmd.path)) == NULL ||
		    memchr(cmd.envid, '\0', sizeof(cmd.envid)) == NULL ||
		    memchr(cmd.orcpt, '\0', sizeof(cmd.orcpt)) == NULL ||
		    cmd.arg < line || cmd.arg + cmd.arglen > line + size)
			abort();
		if (cmd.initial != NULL && (cmd.initial < line ||
		    cmd.initial + cmd.initial_len > line + size ||
		    cmd.initial_len == 0))
			abort();
		if ((cmd.verb == SMTP_RCPT && cmd.path[0] == '\0') ||
		    (cmd.verb == SMTP_MAIL && cmd.path_utf8 && !cmd.smtputf8))
			abort();
	}
	free(copy);
	return 0;
}
