/*
 * utf8: the one check of well-formed UTF-8 (RFC 3629) for everything a
 * client or a peer sends (SMTPUTF8 commands, addresses, header text).
 *
 * utf8_seqlen(p, n) is the length (1 to 4) of the character that begins
 * at p, of which n >= 1 octets are available, or 0 when it is malformed:
 * a stray continuation octet, a sequence cut short, an overlong form
 * (C0, C1, E0 80..9F, F0 80..8F), a surrogate (U+D800..U+DFFF), a value
 * past U+10FFFF (F4 90.., F5..FF), or a C1 control (U+0080..U+009F),
 * which no mail text has a use for and some terminals obey.  ASCII octets
 * (controls included: that is each caller's own policy) are length 1.
 *
 * utf8_valid(p, n) is 1 when all n octets are such characters, else 0.
 * Both are pure and read only the n octets given.
 */
#ifndef POSTERN_UTF8_H
#define POSTERN_UTF8_H

#include <stddef.h>

size_t	utf8_seqlen(const unsigned char *, size_t);
int	utf8_valid(const void *, size_t);

#endif
