/*
 * ctl.h: posternctl's local operations (those that do not go through the
 * control socket), and what its output shares.
 */
#ifndef POSTERN_CTL_H
#define POSTERN_CTL_H

#include <stdio.h>

#include "config.h"

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
 * Write s as a JSON string (quotes included) that always parses: see
 * ctl_json.c.
 */
void	ctl_json_str(FILE *, const char *s);

#endif
