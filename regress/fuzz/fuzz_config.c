/*
 * fuzz_config: config_parse_buf() on arbitrary bytes.
 *
 * The children parse the configuration text the master sends them, so the
 * parser must survive anything: no overrun, no leak, no crash, whatever
 * the input.  Messages go to /dev/null (opened once); a configuration that
 * parses is also run through the lookups and freed.
 *
 *	make O=build-fuzz CC=clang fuzz
 *	build-fuzz/fuzz/fuzz_config -max_len=8192 regress/fuzz/corpus-config
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct config *conf;
	struct domain *d;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	conf = config_parse_buf("fuzz.conf", (const char *)data, size,
	    devnull);
	if (conf == NULL)
		return 0;
	TAILQ_FOREACH(d, &conf->domains, entry) {
		if (config_domain(conf, d->name) != d)
			abort();
		(void)config_local_part_ok(d, "postmaster");
	}
	config_free(conf);
	return 0;
}
