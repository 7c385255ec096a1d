/*
 * authd_addr.c: what a token's address, name and account may be, and the
 * one form an address is stored in.
 *
 * authd_addr_canon(conf, in, out, outsz, why, whysz)
 *	Check an address given to "token add" (or a filter of "token list",
 *	"token delete") and write its stored form into out: the canonical
 *	form of lib/addr.h with the domain in lower case, and the local
 *	part in lower case too when the configuration says local parts are
 *	case-insensitive (the default), so that "Scans@Example.COM" and
 *	"scans@example.com" are one address with one set of token names.
 *	The domain must be configured, and the local part allowed by the
 *	domain's local-parts patterns.  Returns 0, or -1 with a sentence for
 *	the operator in why.
 *
 * authd_addr_norm(conf, in, out, outsz, why, whysz)
 *	The same form without the checks against the configuration: for
 *	finding tokens ("token list --address", "token delete --address"),
 *	which must work for a domain that is no longer configured.
 *
 * authd_user_matches(conf, user, tokaddr)
 *	Is the SMTP username (as the client sent it) the token's address?
 *	1 or 0.  Parsing and comparing depend only on the username and the
 *	token's record, never on whether any token exists for that user.
 *
 * authd_name_check(name, why), authd_account_check(account, why)
 *	0 when acceptable, else -1 and a static sentence in *why.  A name is
 *	1 to TOKEN_NAME_MAX bytes of UTF-8 text without control characters
 *	and without leading or trailing spaces; an account id is 1 to
 *	TOKEN_ACCOUNT_MAX printable ASCII characters without spaces.
 *
 * authd_client_check(client) is 1 when a client address from smtpd is
 *	fit to store and log (short, printable), else 0.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "authd.h"
#include "utf8.h"

static void
ascii_lower(char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i] != '\0'; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = s[i] - 'A' + 'a';
}

/* Parse and lower-case; *dp is the configured domain, or NULL. */
static int
addr_norm(const struct config *conf, const char *in, char *local,
    char *domain, const struct domain **dp, char *why, size_t whysz)
{
	char canon[ADDR_MAX];
	const char *err = NULL;
	size_t len;

	len = strlen(in);
	if (len == 0) {
		snprintf(why, whysz, "the address is empty");
		return -1;
	}
	if (len >= ADDR_MAX) {
		snprintf(why, whysz, "the address is too long");
		return -1;
	}
	if (addr_parse_bare(in, len, canon, sizeof(canon), NULL, &err) == -1 ||
	    addr_split(canon, local, ADDR_MAX, domain, ADDR_MAX) == -1) {
		snprintf(why, whysz, "invalid address \"%s\": %s", in,
		    err ? err : "malformed address");
		return -1;
	}
	ascii_lower(domain, ADDR_MAX);
	*dp = config_domain(conf, domain);
	if (*dp != NULL ? (*dp)->local_nocase : conf->local_part_nocase)
		ascii_lower(local, ADDR_MAX);
	return 0;
}

static int
addr_join(const char *local, const char *domain, char *out, size_t outsz,
    char *why, size_t whysz)
{
	int n;

	n = snprintf(out, outsz, "%s@%s", local, domain);
	if (n < 0 || (size_t)n >= outsz || (size_t)n >= MAX_ADDR) {
		snprintf(why, whysz, "the address is too long");
		return -1;
	}
	return 0;
}

int
authd_addr_norm(const struct config *conf, const char *in, char *out,
    size_t outsz, char *why, size_t whysz)
{
	char local[ADDR_MAX], domain[ADDR_MAX];
	const struct domain *d;

	if (addr_norm(conf, in, local, domain, &d, why, whysz) == -1)
		return -1;
	return addr_join(local, domain, out, outsz, why, whysz);
}

int
authd_addr_canon(const struct config *conf, const char *in, char *out,
    size_t outsz, char *why, size_t whysz)
{
	char local[ADDR_MAX], domain[ADDR_MAX];
	const struct domain *d;

	if (addr_norm(conf, in, local, domain, &d, why, whysz) == -1)
		return -1;
	if (d == NULL) {
		snprintf(why, whysz, "domain %s is not configured in %s",
		    domain, conf->file[0] ? conf->file : "postern.conf");
		return -1;
	}
	if (!config_local_part_ok(d, local)) {
		snprintf(why, whysz, "%s may not have tokens: the local-parts "
		    "of domain %s do not allow \"%s\"", in, d->name, local);
		return -1;
	}
	return addr_join(local, domain, out, outsz, why, whysz);
}

int
authd_user_matches(const struct config *conf, const char *user,
    const char *tokaddr)
{
	char canon[ADDR_MAX], domain[ADDR_MAX];
	const struct domain *d;
	size_t len;
	int nocase;

	len = strnlen(user, ADDR_MAX);
	if (len == 0 || len == ADDR_MAX ||
	    addr_parse_bare(user, len, canon, sizeof(canon), NULL,
	    NULL) == -1)
		return 0;
	/* The token's own domain says how its local parts compare. */
	nocase = conf->local_part_nocase;
	if (addr_split(tokaddr, NULL, 0, domain, sizeof(domain)) == 0 &&
	    (d = config_domain(conf, domain)) != NULL)
		nocase = d->local_nocase;
	return addr_equal(canon, tokaddr, nocase);
}

int
authd_name_check(const char *name, const char **why)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t len, i, n;

	len = strlen(name);
	if (len == 0) {
		*why = "the name is empty";
		return -1;
	}
	if (len > TOKEN_NAME_MAX) {
		*why = "the name is too long (at most "
		    STRINGIFY(TOKEN_NAME_MAX) " bytes)";
		return -1;
	}
	if (p[0] == ' ' || p[len - 1] == ' ') {
		*why = "the name begins or ends with a space";
		return -1;
	}
	for (i = 0; i < len; i += n) {
		if (p[i] < 0x20 || p[i] == 0x7f) {
			*why = "the name holds a control character";
			return -1;
		}
		if ((n = utf8_seqlen(p + i, len - i)) == 0) {
			*why = "the name is not valid UTF-8 text";
			return -1;
		}
	}
	return 0;
}

int
authd_account_check(const char *account, const char **why)
{
	size_t len, i;

	len = strlen(account);
	if (len == 0) {
		*why = "the account is empty";
		return -1;
	}
	if (len > TOKEN_ACCOUNT_MAX) {
		*why = "the account is too long (at most "
		    STRINGIFY(TOKEN_ACCOUNT_MAX) " characters)";
		return -1;
	}
	for (i = 0; i < len; i++)
		if (account[i] <= ' ' || account[i] > '~') {
			*why = "the account may hold only printable ASCII "
			    "characters, no spaces";
			return -1;
		}
	return 0;
}

int
authd_client_check(const char *client)
{
	size_t i;

	for (i = 0; client[i] != '\0'; i++)
		if (i >= MAX_CLIENT - 1 || client[i] <= ' ' ||
		    client[i] > '~')
			return 0;
	return 1;
}
