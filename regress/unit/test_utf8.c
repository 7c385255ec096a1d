/*
 * test_utf8: the UTF-8 check (lib/utf8.c).
 */
#include <string.h>

#include "unit.h"
#include "utf8.h"

#define VALID(s)	utf8_valid(s, sizeof(s) - 1)

static void
test_good(void)
{
	CHECK(VALID(""));
	CHECK(VALID("plain ascii\t\r\n"));
	CHECK(VALID("caf\xc3\xa9"));			/* U+00E9 */
	CHECK(VALID("\xc2\xa0"));			/* U+00A0 */
	CHECK(VALID("\xdf\xbf"));			/* U+07FF */
	CHECK(VALID("\xe0\xa0\x80"));			/* U+0800 */
	CHECK(VALID("\xed\x9f\xbf"));			/* U+D7FF */
	CHECK(VALID("\xee\x80\x80"));			/* U+E000 */
	CHECK(VALID("\xef\xbf\xbf"));			/* U+FFFF */
	CHECK(VALID("\xf0\x90\x80\x80"));		/* U+10000 */
	CHECK(VALID("\xf4\x8f\xbf\xbf"));		/* U+10FFFF */
	CHECK_INT(utf8_seqlen((const unsigned char *)"\xf0\x9f\x93\xa7", 4),
	    4);
	CHECK_INT(utf8_seqlen((const unsigned char *)"a", 1), 1);
	CHECK_INT(utf8_seqlen((const unsigned char *)"a", 0), 0);
}

static void
test_bad(void)
{
	CHECK(!VALID("\x80"));				/* stray */
	CHECK(!VALID("\xbf"));
	CHECK(!VALID("\xc0\xaf"));			/* overlong '/' */
	CHECK(!VALID("\xc1\xbf"));
	CHECK(!VALID("\xe0\x80\xaf"));
	CHECK(!VALID("\xe0\x9f\xbf"));
	CHECK(!VALID("\xf0\x8f\xbf\xbf"));
	CHECK(!VALID("\xed\xa0\x80"));			/* surrogates */
	CHECK(!VALID("\xed\xbf\xbf"));
	CHECK(!VALID("\xf4\x90\x80\x80"));		/* past U+10FFFF */
	CHECK(!VALID("\xf5\x80\x80\x80"));
	CHECK(!VALID("\xff"));
	CHECK(!VALID("\xc3"));				/* cut short */
	CHECK(!VALID("\xe2\x82"));
	CHECK(!VALID("\xf0\x9f\x93"));
	CHECK(!VALID("\xc3\x28"));			/* bad continuation */
	CHECK(!VALID("\xc2\x80"));			/* C1 controls */
	CHECK(!VALID("\xc2\x9f"));
	CHECK(!VALID("ok\xc3\xa9then\x80"));
	/* the length given bounds the read */
	CHECK_INT(utf8_seqlen((const unsigned char *)"\xc3\xa9", 1), 0);
}

int
main(void)
{
	RUN(test_good);
	RUN(test_bad);
	return unit_done();
}
