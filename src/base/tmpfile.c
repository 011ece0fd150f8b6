/* Temporary files created race-free (see tmpfile.h). */
#include "base/tmpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

void tm_tmpfile_stem(const char *final_path, char *stem, size_t size)
{
    snprintf(stem, size, "%s.tmp-%ld", final_path, (long)getpid());
}

/* 64 random bits from the kernel; the name must not be guessable by
 * another user who can write to the same folder. */
static int random_bits(uint64_t *bits)
{
    size_t got = 0;
    while (got < sizeof *bits) {
        ssize_t n = getrandom((unsigned char *)bits + got, sizeof *bits - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

int tm_tmpfile_name(const char *stem, char *name, size_t size, tm_error *err)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t bits;
    if (random_bits(&bits)) {
        tm_error_set(err, TM_ERR_RUNTIME, "%s: no random numbers for a temporary name: %s", stem, strerror(errno));
        return -1;
    }
    char suffix[13];
    for (int i = 0; i < 12; i++) {
        suffix[i] = alphabet[bits % 36];
        bits /= 36;
    }
    suffix[12] = '\0';
    if ((size_t)snprintf(name, size, "%s-%s", stem, suffix) >= size) {
        tm_error_set(err, TM_ERR_INPUT, "%s: path too long for a temporary name", stem);
        return -1;
    }
    return 0;
}

int tm_tmpfile_create(const char *stem, char *name, size_t size, tm_error *err)
{
    /* A clash needs the same 60 random bits twice; TM_TMPFILE_TRIES only
     * guards against an adversary who fills the folder with names. */
    for (int attempt = 0; attempt < TM_TMPFILE_TRIES; attempt++) {
        if (tm_tmpfile_name(stem, name, size, err))
            return -1;
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST) {
            tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot create a temporary file: %s", name, strerror(errno));
            return -1;
        }
    }
    tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot find a free temporary name", stem);
    return -1;
}
