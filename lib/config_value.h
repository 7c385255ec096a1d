/*
 * config_value.h: helpers shared by config.c and config_value.c only.
 * Nothing outside the config parser includes this file.
 */
#ifndef POSTERN_CONFIG_VALUE_H
#define POSTERN_CONFIG_VALUE_H

#include <sys/socket.h>
#include <stdint.h>
#include <time.h>

/* The longest duration accepted: it fits in 32 bits for every consumer. */
#define CONF_MAX_DURATION	((time_t)INT32_MAX)

/* ASCII lower case, in place. */
void	conf_lower(char *);
/*
 * 1 if a DNS name of LDH labels (1-63 octets each, 253 in all, no final
 * dot); a last label of digits only is refused unless numeric_tld.
 */
int	conf_dns_name(const char *, int numeric_tld);
/* 1 if a portable user or group name of 1 to 32 characters. */
int	conf_user_name(const char *);
/* Decimal digits only, far from overflow; -1 when malformed. */
int	conf_number(const char *, long long *);
/*
 * A numeric IPv4 (dotted quad only) or IPv6 address with the port set;
 * -1 when anything else.
 */
int	conf_addr(const char *, uint16_t port, struct sockaddr_storage *,
	    socklen_t *);
/* Same family, address, port (and IPv6 scope). */
int	conf_same_addr(const struct sockaddr_storage *,
	    const struct sockaddr_storage *);

#endif
