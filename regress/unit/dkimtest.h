/*
 * dkimtest.h: what the DKIM unit tests share: the python that has
 * python3-dkim.  The distribution's /usr/bin/python3 is the one the
 * python3-dkim package installs for; a python3 earlier in PATH (pyenv,
 * a virtualenv) usually lacks it.  POSTERN_PYTHON overrides both.  The
 * tests fail, never skip, when that python cannot import dkim.
 */
#ifndef POSTERN_DKIMTEST_H
#define POSTERN_DKIMTEST_H

#include <stdlib.h>
#include <unistd.h>

static inline const char *
dkimtest_python(void)
{
	const char *p = getenv("POSTERN_PYTHON");

	if (p != NULL && *p != '\0')
		return p;
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" :
	    "python3";
}

#endif
