#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

tm_status tm_error_set(tm_error *err, tm_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

tm_status tm_error_prefix(tm_error *err, const char *fmt, ...)
{
    if (!err)
        return TM_ERR_RUNTIME;
    char prefix[512];
    char old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return err->status;
}

void tm_error_clear(tm_error *err)
{
    if (err) {
        err->status = TM_OK;
        err->msg[0] = '\0';
    }
}
