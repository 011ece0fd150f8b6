/* ckbuf: a growable byte buffer with a read position, into which the
 * engine, the models and the run-file writer save the state a checkpoint
 * holds (the file format around it is src/io/checkpoint.h). Writers
 * append; readers take bytes in the same order. */
#ifndef TM_CKBUF_H
#define TM_CKBUF_H

#include <stddef.h>

typedef struct tm_ckbuf {
    unsigned char *data;
    size_t len, cap, pos;
    int failed; /* an append ran out of memory */
} tm_ckbuf;

void tm_ckbuf_put(tm_ckbuf *b, const void *data, size_t n);
/* 0, or -1 when fewer than n bytes are left to read. */
int tm_ckbuf_get(tm_ckbuf *b, void *data, size_t n);
void tm_ckbuf_put_string(tm_ckbuf *b, const char *s);
/* Reads a string written by tm_ckbuf_put_string into buf (size bytes). */
int tm_ckbuf_get_string(tm_ckbuf *b, char *buf, size_t size);
void tm_ckbuf_free(tm_ckbuf *b);

#endif
