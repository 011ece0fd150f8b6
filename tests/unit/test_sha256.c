/* test_sha256: FIPS 180-4 example digests, padding boundaries and streaming
 * equivalence of tm_sha256. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"

static void expect_digest(const void *data, size_t len, const char *expected)
{
    char hex[65];
    tm_sha256_buffer(data, len, hex);
    cr_expect_str_eq(hex, expected, "length %zu", len);
}

Test(sha256, empty_message_matches_fips_vector)
{
    expect_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, abc_matches_fips_vector)
{
    expect_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(sha256, two_block_448_bit_message_matches_fips_vector)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    expect_digest(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, multi_block_896_bit_message_matches_fips_vector)
{
    const char *m =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmn"
        "opqrlmnopqrsmnopqrstnopqrstu";
    cr_assert_eq(strlen(m), 112u);
    expect_digest(m, strlen(m), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, one_million_a_matches_fips_vector)
{
    size_t n = 1000000;
    char *m = malloc(n);
    cr_assert_not_null(m);
    memset(m, 'a', n);
    expect_digest(m, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    /* The same message fed 1000 bytes at a time. */
    tm_sha256 ctx;
    uint8_t digest[32];
    char hex[65];
    tm_sha256_init(&ctx);
    for (size_t i = 0; i < n; i += 1000)
        tm_sha256_update(&ctx, m + i, 1000);
    tm_sha256_final(&ctx, digest);
    tm_sha256_hex(digest, hex);
    cr_expect_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(m);
}

Test(sha256, lengths_around_padding_boundaries_match_independent_digests)
{
    /* Runs of 'a' whose padding needs one or two extra blocks. */
    static const struct {
        size_t len;
        const char *hex;
    } cases[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    };
    char m[128];
    memset(m, 'a', sizeof m);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_digest(m, cases[i].len, cases[i].hex);
}

Test(sha256, streaming_in_odd_sized_pieces_equals_one_call)
{
    uint8_t data[3000];
    uint32_t x = 12345u;
    for (size_t i = 0; i < sizeof data; i++) {
        x = x * 1664525u + 1013904223u;
        data[i] = (uint8_t)(x >> 24);
    }
    static const size_t pieces[] = {1, 3, 7, 13, 63, 64, 65, 127, 0, 200, 5};

    for (size_t len = 0; len <= sizeof data; len += 137) {
        char whole[65], streamed[65];
        uint8_t digest[32];
        tm_sha256_buffer(data, len, whole);

        tm_sha256 ctx;
        tm_sha256_init(&ctx);
        size_t pos = 0, k = 0;
        while (pos < len) {
            size_t take = pieces[k++ % (sizeof pieces / sizeof pieces[0])];
            if (take > len - pos)
                take = len - pos;
            tm_sha256_update(&ctx, data + pos, take);
            pos += take;
        }
        tm_sha256_final(&ctx, digest);
        tm_sha256_hex(digest, streamed);
        cr_expect_str_eq(streamed, whole, "length %zu", len);
    }
}

Test(sha256, zero_length_update_with_null_pointer_is_a_no_op)
{
    tm_sha256 ctx;
    uint8_t digest[32];
    char hex[65];
    tm_sha256_init(&ctx);
    tm_sha256_update(&ctx, NULL, 0);
    tm_sha256_update(&ctx, "abc", 3);
    tm_sha256_update(&ctx, NULL, 0);
    tm_sha256_final(&ctx, digest);
    tm_sha256_hex(digest, hex);
    cr_expect_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Digest of `len` bytes fed in pieces of up to 1000 bytes, with the
 * portable compression (hardware 0) or the processor's SHA extensions
 * where it has them (hardware 1). */
static void digest_with(const uint8_t *data, size_t len, int hardware, char hex[65])
{
    tm_sha256 ctx;
    uint8_t digest[32];
    tm_sha256_init(&ctx);
    for (size_t pos = 0; pos < len; pos += 1000)
        tm_sha256_update_with(&ctx, data + pos, len - pos < 1000 ? len - pos : 1000, hardware);
    tm_sha256_final(&ctx, digest);
    tm_sha256_hex(digest, hex);
}

Test(sha256, hardware_and_portable_compression_give_the_same_digests)
{
    /* Every length from 0 to 300 bytes (every position of a message end
     * within a block, one to five blocks), then long messages. */
    uint8_t data[20000];
    uint32_t x = 987654321u;
    for (size_t i = 0; i < sizeof data; i++) {
        x = x * 1664525u + 1013904223u;
        data[i] = (uint8_t)(x >> 24);
    }
    for (size_t len = 0; len <= sizeof data; len += len < 300 ? 1 : 4999) {
        char portable[65], hardware[65];
        digest_with(data, len, 0, portable);
        digest_with(data, len, 1, hardware);
        cr_expect_str_eq(hardware, portable, "length %zu", len);
    }
}

Test(sha256, portable_compression_matches_the_fips_vectors)
{
    /* tm_sha256_update takes the hardware path on processors with the SHA
     * extensions; the portable path must stay right on its own. */
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char hex[65];
    digest_with((const uint8_t *)m, strlen(m), 0, hex);
    cr_expect_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    uint8_t a[1000];
    memset(a, 'a', sizeof a);
    tm_sha256 ctx;
    uint8_t digest[32];
    tm_sha256_init(&ctx);
    for (int i = 0; i < 1000; i++)
        tm_sha256_update_with(&ctx, a, sizeof a, 0);
    tm_sha256_final(&ctx, digest);
    tm_sha256_hex(digest, hex);
    cr_expect_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
