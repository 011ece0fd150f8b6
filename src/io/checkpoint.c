#include "io/checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/sha256.h"
#include "base/tmpfile.h"
#include "tm_build_info.h"

static const char magic[8] = {'T', 'M', 'C', 'K', 'P', 'T', '\r', '\n'};

int tm_checkpoint_has_magic(const void *head, size_t n)
{
    return n >= sizeof magic && memcmp(head, magic, sizeof magic) == 0;
}

/* The state inside a checkpoint is raw engine memory (RNG states, hash
 * contexts), so only the build that wrote it may read it. */
#define BUILD_ID_SIZE 128

static void build_id(char buf[BUILD_ID_SIZE])
{
    memset(buf, 0, BUILD_ID_SIZE);
    snprintf(buf, BUILD_ID_SIZE, "tradeabm %s %s %s %s", TM_VERSION, TM_GIT_COMMIT, TM_C_COMPILER, TM_BUILD_TYPE);
}

void tm_checkpoint_path(const char *output_path, char *buf, size_t size)
{
    snprintf(buf, size, "%s.ckpt", output_path);
}

void tm_checkpoint_free(tm_checkpoint *ck)
{
    free(ck->params_text);
    free(ck->final_path);
    tm_ckbuf_free(&ck->state);
    memset(ck, 0, sizeof *ck);
}

/* Layout (little-endian host order; same build only):
 *   magic[8] "TMCKPT\r\n", u32 version, u32 reserved, build id[128],
 *   params sha256 hex[64], i32 period, i32 every, i32 panel, i32 force,
 *   u64 params bytes, u64 path bytes, u64 state bytes,
 *   params text, final path, state, SHA-256 of everything before [32]. */
int tm_checkpoint_write(const char *path, const tm_params *p, const tm_checkpoint *ck, tm_error *err)
{
    tm_ckbuf b = {0};
    uint32_t version = TM_CHECKPOINT_VERSION, reserved = 0;
    char build[BUILD_ID_SIZE], sha[64];
    build_id(build);
    memcpy(sha, p->sha256, 64);
    int32_t fields[4] = {ck->period, ck->every, ck->panel, ck->force};
    uint64_t sizes[3] = {strlen(p->canonical), strlen(ck->final_path), ck->state.len};
    tm_ckbuf_put(&b, magic, sizeof magic);
    tm_ckbuf_put(&b, &version, sizeof version);
    tm_ckbuf_put(&b, &reserved, sizeof reserved);
    tm_ckbuf_put(&b, build, sizeof build);
    tm_ckbuf_put(&b, sha, sizeof sha);
    tm_ckbuf_put(&b, fields, sizeof fields);
    tm_ckbuf_put(&b, sizes, sizeof sizes);
    tm_ckbuf_put(&b, p->canonical, sizes[0]);
    tm_ckbuf_put(&b, ck->final_path, sizes[1]);
    tm_ckbuf_put(&b, ck->state.data, sizes[2]);
    uint8_t digest[32];
    tm_sha256 ctx;
    tm_sha256_init(&ctx);
    tm_sha256_update(&ctx, b.data, b.len);
    tm_sha256_final(&ctx, digest);
    tm_ckbuf_put(&b, digest, sizeof digest);
    if (b.failed) {
        tm_ckbuf_free(&b);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory writing a checkpoint");
    }

    char stem[4200], tmp[4300];
    tm_tmpfile_stem(path, stem, sizeof stem);
    int fd = tm_tmpfile_create(stem, tmp, sizeof tmp, err);
    if (fd < 0) {
        tm_ckbuf_free(&b);
        return tm_error_prefix(err, "%s: cannot write the checkpoint", path);
    }
    FILE *f = fdopen(fd, "wb");
    if (!f)
        close(fd);
    int rc = !f || fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved = errno;
    if (f && fclose(f) != 0 && !rc) {
        rc = 1;
        saved = errno;
    }
    tm_ckbuf_free(&b);
    if (rc || rename(tmp, path) != 0) {
        if (!rc)
            saved = errno;
        unlink(tmp);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot write the checkpoint: %s", path, strerror(saved));
    }
    return 0;
}

int tm_checkpoint_read(const char *path, tm_checkpoint *ck, tm_error *err)
{
    memset(ck, 0, sizeof *ck);
    FILE *f = fopen(path, "rb");
    if (!f)
        return tm_error_set(err, TM_ERR_INPUT, "%s: cannot open the checkpoint: %s", path, strerror(errno));
    tm_ckbuf b = {0};
    unsigned char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        tm_ckbuf_put(&b, chunk, got);
    int read_error = ferror(f);
    fclose(f);
    if (b.failed || read_error) {
        tm_ckbuf_free(&b);
        return tm_error_set(err, TM_ERR_RUNTIME, "%s: cannot read the checkpoint", path);
    }
    char m[8], build[BUILD_ID_SIZE], mine[BUILD_ID_SIZE], sha[64];
    uint32_t version = 0, reserved;
    int32_t fields[4];
    uint64_t sizes[3];
    if (tm_ckbuf_get(&b, m, sizeof m) || memcmp(m, magic, sizeof m) != 0) {
        tm_ckbuf_free(&b);
        return tm_error_set(err, TM_ERR_INPUT, "%s: not a tradeabm checkpoint", path);
    }
    if (tm_ckbuf_get(&b, &version, sizeof version) || version != TM_CHECKPOINT_VERSION) {
        tm_ckbuf_free(&b);
        return tm_error_set(err, TM_ERR_INPUT, "%s: checkpoint format version %u; this build reads version %d", path,
                            (unsigned)version, TM_CHECKPOINT_VERSION);
    }
    if (b.len < 32) {
        tm_ckbuf_free(&b);
        return tm_error_set(err, TM_ERR_INPUT, "%s: truncated checkpoint", path);
    }
    uint8_t digest[32];
    tm_sha256 ctx;
    tm_sha256_init(&ctx);
    tm_sha256_update(&ctx, b.data, b.len - 32);
    tm_sha256_final(&ctx, digest);
    if (memcmp(digest, b.data + b.len - 32, 32) != 0) {
        tm_ckbuf_free(&b);
        return tm_error_set(err, TM_ERR_INPUT, "%s: checkpoint checksum mismatch (truncated or corrupt)", path);
    }
    b.len -= 32;
    build_id(mine);
    if (tm_ckbuf_get(&b, &reserved, sizeof reserved) || tm_ckbuf_get(&b, build, sizeof build) ||
        tm_ckbuf_get(&b, sha, sizeof sha) || tm_ckbuf_get(&b, fields, sizeof fields) ||
        tm_ckbuf_get(&b, sizes, sizeof sizes) || sizes[0] + sizes[1] + sizes[2] != b.len - b.pos) {
        tm_ckbuf_free(&b);
        return tm_error_set(err, TM_ERR_INPUT, "%s: malformed checkpoint header", path);
    }
    build[BUILD_ID_SIZE - 1] = '\0';
    if (memcmp(build, mine, BUILD_ID_SIZE) != 0) {
        tm_error_set(err, TM_ERR_INPUT, "%s: written by another build (%s); this is %s. Resume with that build", path,
                     build, mine);
        tm_ckbuf_free(&b);
        return -1;
    }
    memcpy(ck->params_sha256, sha, 64);
    ck->params_sha256[64] = '\0';
    ck->period = fields[0];
    ck->every = fields[1];
    ck->panel = fields[2];
    ck->force = fields[3];
    ck->params_text = malloc(sizes[0] + 1);
    ck->final_path = malloc(sizes[1] + 1);
    if (!ck->params_text || !ck->final_path) {
        tm_ckbuf_free(&b);
        tm_checkpoint_free(ck);
        return tm_error_set(err, TM_ERR_RUNTIME, "out of memory");
    }
    tm_ckbuf_get(&b, ck->params_text, sizes[0]);
    ck->params_text[sizes[0]] = '\0';
    tm_ckbuf_get(&b, ck->final_path, sizes[1]);
    ck->final_path[sizes[1]] = '\0';
    /* The state stays in place: its reader starts at the current position. */
    ck->state = b;
    return 0;
}
