/*
 * test_ctl_json: ctl_json_str (ctl/ctl_json.c), the one JSON string
 * writer of posternctl: escapes, and bytes that are not UTF-8.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "unit.h"

static char out[1024];

static const char *
json(const char *s)
{
	FILE *f;
	size_t n;

	if ((f = fmemopen(out, sizeof(out) - 1, "w")) == NULL)
		return "(fmemopen)";
	ctl_json_str(f, s);
	n = (size_t)ftell(f);
	fclose(f);
	out[n < sizeof(out) ? n : sizeof(out) - 1] = '\0';
	return out;
}

static void
test_plain_and_escapes(void)
{
	CHECK_STR(json(""), "\"\"");
	CHECK_STR(json("a b"), "\"a b\"");
	CHECK_STR(json("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
	CHECK_STR(json("\x1b]2;t\x07\r\n\x7f"),
	    "\"\\u001b]2;t\\u0007\\u000d\\u000a\\u007f\"");
}

static void
test_utf8(void)
{
	/* well-formed UTF-8 stays as it is */
	CHECK_STR(json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa0"),
	    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa0\"");
	/* malformed bytes, an overlong form, a C1 control, a cut sequence */
	CHECK_STR(json("a\xff" "b"), "\"a\\ufffdb\"");
	CHECK_STR(json("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
	CHECK_STR(json("\xc2\x9b" "1m"), "\"\\ufffd\\ufffd1m\"");
	CHECK_STR(json("x\xe2\x82"), "\"x\\ufffd\\ufffd\"");
	CHECK_STR(json("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
}

int
main(void)
{
	RUN(test_plain_and_escapes);
	RUN(test_utf8);
	return unit_done();
}
