/*
 * unit.h: the smallest test harness that reads well.
 *
 *	static void
 *	test_parse_empty(void)
 *	{
 *		CHECK(parse("") == -1);
 *		CHECK_STR(buf, "expected");
 *	}
 *
 *	int
 *	main(void)
 *	{
 *		RUN(test_parse_empty);
 *		return unit_done();
 *	}
 *
 * Every RUN prints "ok - name" or "not ok - name" (with each failed check's
 * file:line before it); regress/run.py counts those lines.  unit_done()
 * returns non-zero when anything failed.
 */
#ifndef POSTERN_UNIT_H
#define POSTERN_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failed_checks;
static int unit_npass, unit_nfail;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		printf("#   %s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		unit_failed_checks++;					\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *unit_a = (a), *unit_b = (b);			\
	if (unit_a == NULL || unit_b == NULL ||				\
	    strcmp(unit_a, unit_b) != 0) {				\
		printf("#   %s:%d: \"%s\" != \"%s\"\n", __FILE__,	\
		    __LINE__, unit_a ? unit_a : "(null)",		\
		    unit_b ? unit_b : "(null)");			\
		unit_failed_checks++;					\
	}								\
} while (0)

#define CHECK_INT(a, b) do {						\
	long long unit_a = (long long)(a), unit_b = (long long)(b);	\
	if (unit_a != unit_b) {						\
		printf("#   %s:%d: %s == %lld, expected %lld\n",	\
		    __FILE__, __LINE__, #a, unit_a, unit_b);		\
		unit_failed_checks++;					\
	}								\
} while (0)

#define RUN(fn) do {							\
	int unit_before = unit_failed_checks;				\
	fflush(stdout);							\
	fn();								\
	if (unit_failed_checks == unit_before) {			\
		printf("ok - %s\n", #fn);				\
		unit_npass++;						\
	} else {							\
		printf("not ok - %s\n", #fn);				\
		unit_nfail++;						\
	}								\
	fflush(stdout);							\
} while (0)

static inline int
unit_done(void)
{
	return unit_nfail ? 1 : 0;
}

#endif
