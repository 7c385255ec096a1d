/*
 * ctl_rows.c: the answer rows posternctl keeps until the answer is
 * complete (a table needs every row to know its column widths), stored
 * at their own size.
 *
 * A row arrives as a struct ctl_row, which has room for MAX_CTL_ARGS
 * keys and values of their largest size (about 17 KB); a `token list'
 * of a million tokens kept that way would take 17 GB.  Here each row is
 * its keys and values as NUL-terminated strings, back to back in one
 * growing buffer, with an offset and a count per row: a row costs what
 * its text does, plus 16 bytes.
 *
 * void ctl_rows_init(rows)		an empty store
 * void ctl_rows_free(rows)		free it; it is empty again
 * int ctl_rows_add(rows, row)
 *	Append a copy of row.  0, or -1 (out of memory, or sizes past
 *	what a size_t holds) with the store unchanged.
 * uint32_t ctl_rows_get(rows, i, key, val)
 *	Point key[k] and val[k] (arrays of MAX_CTL_ARGS) at the pairs of
 *	row i (i < rows->n) and return how many there are.  The strings
 *	are the store's and may be changed in place without changing their
 *	length (posternctl makes them safe for a terminal); the pointers
 *	hold until the next ctl_rows_add or ctl_rows_free.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

void
ctl_rows_init(struct ctl_rows *rows)
{
	memset(rows, 0, sizeof(*rows));
}

void
ctl_rows_free(struct ctl_rows *rows)
{
	free(rows->buf);
	free(rows->v);
	ctl_rows_init(rows);
}

/*
 * Make room in the array *pp (of *cap entries of sz bytes, len in use)
 * for need more entries, doubling.  0, or -1 with *pp as it was.
 */
static int
grow(void **pp, size_t *cap, size_t len, size_t need, size_t sz)
{
	void *p;
	size_t ncap;

	if (need <= *cap - len)
		return 0;
	if (need > SIZE_MAX / sz - len)
		return -1;
	ncap = *cap ? *cap : 64;
	while (ncap - len < need)
		ncap = ncap <= SIZE_MAX / sz / 2 ? ncap * 2 : len + need;
	if ((p = reallocarray(*pp, ncap, sz)) == NULL)
		return -1;
	*pp = p;
	*cap = ncap;
	return 0;
}

int
ctl_rows_add(struct ctl_rows *rows, const struct ctl_row *row)
{
	size_t need = 0, len[MAX_CTL_ARGS * 2], o;
	void *buf = rows->buf, *v = rows->v;
	uint32_t k;

	if (row->n > MAX_CTL_ARGS)
		return -1;
	for (k = 0; k < row->n; k++) {
		len[2 * k] = strnlen(row->kv[k].key, MAX_CTL_KEY - 1) + 1;
		len[2 * k + 1] = strnlen(row->kv[k].val, MAX_CTL_VAL - 1) + 1;
		need += len[2 * k] + len[2 * k + 1];
	}
	if (grow(&buf, &rows->bufcap, rows->buflen, need, 1) == -1)
		return -1;
	rows->buf = buf;
	if (grow(&v, &rows->cap, rows->n, 1, sizeof(*rows->v)) == -1)
		return -1;
	rows->v = v;
	rows->v[rows->n].off = o = rows->buflen;
	rows->v[rows->n].npairs = row->n;
	for (k = 0; k < row->n; k++) {
		memcpy(rows->buf + o, row->kv[k].key, len[2 * k] - 1);
		rows->buf[o + len[2 * k] - 1] = '\0';
		o += len[2 * k];
		memcpy(rows->buf + o, row->kv[k].val, len[2 * k + 1] - 1);
		rows->buf[o + len[2 * k + 1] - 1] = '\0';
		o += len[2 * k + 1];
	}
	rows->buflen = o;
	rows->n++;
	return 0;
}

uint32_t
ctl_rows_get(struct ctl_rows *rows, size_t i, char *key[], char *val[])
{
	char *p = rows->buf + rows->v[i].off;
	uint32_t k;

	for (k = 0; k < rows->v[i].npairs; k++) {
		key[k] = p;
		p += strlen(p) + 1;
		val[k] = p;
		p += strlen(p) + 1;
	}
	return rows->v[i].npairs;
}
