/*
 * opensmtpd-ossl3.so: preloaded by regress/bench/peers.py into Debian's
 * OpenSMTPD 6.8 (smtpd only), so that its STARTTLS works with OpenSSL 3.
 *
 * OpenSMTPD keeps private keys in its "ca" process.  The SMTP process
 * holds only the certificate's public key, marks the RSA object it gets
 * from EVP_PKEY_get1_RSA() with the key's name (ex_data), and installs a
 * default RSA_METHOD that forwards private-key operations of marked
 * objects to the ca process.  Under OpenSSL 3 that object is a detached
 * copy: the EVP_PKEY keeps a provider key, whose own (unmarked) RSA
 * object then fails every handshake with "missing private key".  Here
 * the copy handed out is also set back into the EVP_PKEY, so the marked
 * object is the one that signs: the same cure OpenSMTPD later applied to
 * its EC keys.  Nothing else changes.
 */
#define _GNU_SOURCE
#define OPENSSL_SUPPRESS_DEPRECATED

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

RSA	*EVP_PKEY_get1_RSA(EVP_PKEY *);

RSA *
EVP_PKEY_get1_RSA(EVP_PKEY *pkey)
{
	static RSA *(*real)(EVP_PKEY *);
	RSA *rsa;

	if (real == NULL) {
		*(void **)&real = dlsym(RTLD_NEXT, "EVP_PKEY_get1_RSA");
		if (real == NULL)
			return NULL;
	}
	rsa = real(pkey);
	if (rsa != NULL && strcmp(program_invocation_short_name, "smtpd") == 0 &&
	    EVP_PKEY_set1_RSA(pkey, rsa) != 1) {
		RSA_free(rsa);
		return NULL;
	}
	return rsa;
}
