#include "base/ckbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void tm_ckbuf_put(tm_ckbuf *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
}

int tm_ckbuf_get(tm_ckbuf *b, void *data, size_t n)
{
    if (b->pos > b->len || b->len - b->pos < n)
        return -1;
    if (n)
        memcpy(data, b->data + b->pos, n);
    b->pos += n;
    return 0;
}

void tm_ckbuf_put_string(tm_ckbuf *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    tm_ckbuf_put(b, &n, sizeof n);
    tm_ckbuf_put(b, s, n);
}

int tm_ckbuf_get_string(tm_ckbuf *b, char *buf, size_t size)
{
    uint32_t n;
    if (tm_ckbuf_get(b, &n, sizeof n) || (size_t)n >= size)
        return -1;
    if (tm_ckbuf_get(b, buf, n))
        return -1;
    buf[n] = '\0';
    return 0;
}

void tm_ckbuf_free(tm_ckbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
