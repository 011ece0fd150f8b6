/* error: the one error type of tradeabm. Library functions fill a tm_error
 * and return a status; only main() prints it and chooses the exit status. */
#ifndef TM_ERROR_H
#define TM_ERROR_H

#include <stddef.h>

/* Status kinds map to exit codes: input errors exit 2, runtime failures 1. */
typedef enum {
    TM_OK = 0,
    TM_ERR_INPUT = 2,   /* bad parameters, files or command line */
    TM_ERR_RUNTIME = 1, /* I/O failure, out of memory, numerical failure */
} tm_status;

typedef struct {
    tm_status status;
    char msg[1024];
} tm_error;

/* printf-style format checking where the compiler offers it. */
#if defined(__GNUC__)
#define TM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TM_PRINTF(fmt, args)
#endif

/* Set err (if not NULL) and return its status; printf-style message. */
TM_PRINTF(3, 4) tm_status tm_error_set(tm_error *err, tm_status status, const char *fmt, ...);

/* Prefix an existing message ("context: old message"), keeping the status. */
TM_PRINTF(2, 3) tm_status tm_error_prefix(tm_error *err, const char *fmt, ...);

void tm_error_clear(tm_error *err);

#endif
