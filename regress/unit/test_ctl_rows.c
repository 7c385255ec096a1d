/*
 * test_ctl_rows: posternctl's store of answer rows (ctl/ctl_rows.c):
 * rows come back as they went in, and each costs about its own text,
 * not the ~17 KB of a struct ctl_row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "unit.h"

static struct ctl_row row;

static void
make_row(int i)
{
	char id[32], name[64];

	memset(&row, 0, sizeof(row));
	snprintf(id, sizeof(id), "%016x", i);
	snprintf(name, sizeof(name), "device %d", i);
	CHECK(ctl_row_add(&row, "id", id) == 0);
	CHECK(ctl_row_add(&row, "name", name) == 0);
	CHECK(ctl_row_add(&row, "address", "scans@example.com") == 0);
	CHECK(ctl_row_add(&row, "last_used", "") == 0);
}

static void
test_round_trip(void)
{
	struct ctl_rows rows;
	char *key[MAX_CTL_ARGS], *val[MAX_CTL_ARGS];
	char big[MAX_CTL_VAL], bigkey[MAX_CTL_KEY];
	uint32_t k;

	ctl_rows_init(&rows);
	make_row(7);
	CHECK_INT(ctl_rows_add(&rows, &row), 0);
	/* an empty row, and a row as large as a row can be */
	memset(&row, 0, sizeof(row));
	CHECK_INT(ctl_rows_add(&rows, &row), 0);
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(bigkey, 'k', sizeof(bigkey) - 1);
	bigkey[sizeof(bigkey) - 1] = '\0';
	for (k = 0; k < MAX_CTL_ARGS; k++)
		CHECK(ctl_row_add(&row, bigkey, big) == 0);
	CHECK_INT(ctl_rows_add(&rows, &row), 0);
	CHECK_INT(rows.n, 3);

	CHECK_INT(ctl_rows_get(&rows, 0, key, val), 4);
	CHECK_STR(key[0], "id");
	CHECK_STR(val[0], "0000000000000007");
	CHECK_STR(key[1], "name");
	CHECK_STR(val[1], "device 7");
	CHECK_STR(key[2], "address");
	CHECK_STR(val[2], "scans@example.com");
	CHECK_STR(key[3], "last_used");
	CHECK_STR(val[3], "");
	CHECK_INT(ctl_rows_get(&rows, 1, key, val), 0);
	CHECK_INT(ctl_rows_get(&rows, 2, key, val), MAX_CTL_ARGS);
	for (k = 0; k < MAX_CTL_ARGS; k++) {
		CHECK_STR(key[k], bigkey);
		CHECK_STR(val[k], big);
	}
	/* changed in place (made safe for a terminal), same length */
	CHECK_INT(ctl_rows_get(&rows, 0, key, val), 4);
	val[1][6] = '?';
	CHECK_INT(ctl_rows_get(&rows, 0, key, val), 4);
	CHECK_STR(val[1], "device?7");
	CHECK_STR(key[2], "address");
	ctl_rows_free(&rows);
	CHECK_INT(rows.n, 0);
	CHECK(rows.buf == NULL && rows.v == NULL);
}

/*
 * A hundred thousand token rows: every one comes back, and the store
 * holds about their text (some 70 bytes each here, plus the index and
 * the doubling's slack), where struct ctl_row copies took 1.7 GB.
 */
static void
test_many_rows_compact(void)
{
	struct ctl_rows rows;
	char *key[MAX_CTL_ARGS], *val[MAX_CTL_ARGS];
	char want[64];
	size_t bytes;
	int i, bad = 0;

	ctl_rows_init(&rows);
	for (i = 0; i < 100000; i++) {
		make_row(i);
		if (ctl_rows_add(&rows, &row) == -1)
			bad++;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(rows.n, 100000);
	for (i = 0; i < 100000; i++) {
		snprintf(want, sizeof(want), "device %d", i);
		if (ctl_rows_get(&rows, i, key, val) != 4 ||
		    strcmp(val[1], want) != 0)
			bad++;
	}
	CHECK_INT(bad, 0);
	bytes = rows.bufcap + rows.cap * sizeof(*rows.v);
	printf("# %zu rows: %zu bytes of text, %zu allocated\n", rows.n,
	    rows.buflen, bytes);
	CHECK(rows.buflen < 100 * rows.n);
	CHECK(bytes < 2 * (rows.buflen + rows.n * sizeof(*rows.v)) + 4096);
	ctl_rows_free(&rows);
}

int
main(void)
{
	RUN(test_round_trip);
	RUN(test_many_rows_compact);
	return unit_done();
}
