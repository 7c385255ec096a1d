/*
 * smtp_tlsmem.c: small TLS sessions for idle connections.
 *
 * OpenSSL keeps a read and a write buffer of about 17 KB each for every
 * connection, for its whole life, unless SSL_MODE_RELEASE_BUFFERS is set;
 * with it, the buffers are freed whenever they are empty, which is all
 * the time for a device that sits authenticated between messages.  That
 * is most of the memory an idle session costs.  libtls offers no way to
 * set the mode, so smtpd provides SSL_CTX_new itself: the dynamic linker
 * resolves libtls's call to this definition (an executable's symbols come
 * first), which calls OpenSSL's own and sets the mode on every context.
 * Nothing else changes: the mode only decides when empty buffers are
 * freed.
 */
#include <dlfcn.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "log.h"

SSL_CTX *
SSL_CTX_new(const SSL_METHOD *method)
{
	static SSL_CTX *(*real)(const SSL_METHOD *);
	SSL_CTX *ctx;

	if (real == NULL &&
	    (real = (SSL_CTX *(*)(const SSL_METHOD *))dlsym(RTLD_NEXT,
	    "SSL_CTX_new")) == NULL)
		fatalx("SSL_CTX_new: %s", dlerror());
	if ((ctx = real(method)) != NULL)
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}
