/* A getrandom() that always returns zero bytes, preloaded (LD_PRELOAD) by
 * tests/cli/test_temporaries.py: every temporary name then ends in
 * "-aaaaaaaaaaaa", so the test can plant a symbolic link at exactly the
 * name tradeabm will try and check that the link is never followed. */
#include <string.h>
#include <sys/types.h>

ssize_t getrandom(void *buf, size_t buflen, unsigned int flags);

ssize_t getrandom(void *buf, size_t buflen, unsigned int flags)
{
    (void)flags;
    memset(buf, 0, buflen);
    return (ssize_t)buflen;
}
