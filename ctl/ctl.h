/*
 * ctl.h: posternctl's local operations (those that do not go through the
 * control socket), and what its output shares.
 */
#ifndef POSTERN_CTL_H
#define POSTERN_CTL_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "proto.h"

/*
 * Generate a DKIM key for a configured domain into signd's key directory
 * (root's, readable by signd's group: mode 0440 in a 0750 directory,
 * made through descriptors that follow no link) and print the DNS record
 * to publish.
 * Runs as root.  Returns 0, or 1 with a message on stderr.
 */
int	ctl_dkim_keygen(const struct config *, const char *domain,
	    const char *selector, const char *alg, int bits, int json);

/*
 * The rows of an answer, each kept at its own size: see ctl_rows.c.
 */
struct ctl_rows {
	char		*buf;		/* every row's strings, back to back */
	size_t		 buflen, bufcap;
	struct {
		size_t	 off;		/* where its first key starts */
		uint32_t npairs;
	}		*v;
	size_t		 n, cap;
};

void	ctl_rows_init(struct ctl_rows *);
void	ctl_rows_free(struct ctl_rows *);
int	ctl_rows_add(struct ctl_rows *, const struct ctl_row *);
uint32_t ctl_rows_get(struct ctl_rows *, size_t i, char *key[],
	    char *val[]);

/*
 * Write s as a JSON string (quotes included) that always parses: see
 * ctl_json.c.
 */
void	ctl_json_str(FILE *, const char *s);

#endif
