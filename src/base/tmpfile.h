/* tmpfile: the one way tradeabm creates a temporary file next to the file
 * it will become. The name is the caller's stem plus an unpredictable
 * suffix, and the file is created with O_CREAT|O_EXCL|O_NOFOLLOW, so a
 * name planted in advance (a symbolic link, a file, a FIFO) is never
 * opened: the creation fails for that name and another is drawn. */
#ifndef TM_TMPFILE_H
#define TM_TMPFILE_H

#include <stddef.h>

#include "base/error.h"

/* The usual stem for a temporary of `final_path`: "FINAL.tmp-PID". The
 * process id stays in the name so that cleanups can tell a live writer
 * from a dead one; the random suffix added by tm_tmpfile_create makes the
 * whole name unpredictable. */
void tm_tmpfile_stem(const char *final_path, char *stem, size_t size);

/* Create "STEM-XXXXXXXXXXXX" (twelve random characters from [a-z0-9],
 * 60 bits) exclusively, mode 0666 less the umask, opened for writing.
 * Returns the open file descriptor (close-on-exec) and the name in `name`,
 * or -1 with `err` naming the stem and the reason. */
int tm_tmpfile_create(const char *stem, char *name, size_t size, tm_error *err);

/* Names tm_tmpfile_create tries before it gives up. */
enum { TM_TMPFILE_TRIES = 100 };

/* Only draw such a name into `name` (0), for a caller that creates the
 * file itself just as exclusively (HDF5's H5F_ACC_EXCL: O_CREAT|O_EXCL,
 * which refuses a symbolic link too); -1 with `err` set. */
int tm_tmpfile_name(const char *stem, char *name, size_t size, tm_error *err);

#endif
