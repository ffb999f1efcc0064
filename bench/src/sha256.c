/* sha256: 32-bit rotates, shifts and adds in a long dependency chain.  The work hashes a
 * 64 KiB buffer `size` times, each round feeding the previous digest back into the
 * buffer.  Self-checks: the FIPS 180-2 test vectors, and a message hashed in odd-sized
 * pieces must give the same digest as hashed in one call.
 */
#include <string.h>

#include "bench.h"

typedef struct {
    uint32_t h[8];
    uint8_t block[64];
    size_t used;
    uint64_t bytes;
} sha256_ctx;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void compress(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

static void sha256_init(sha256_ctx *ctx)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(ctx->h, iv, sizeof iv);
    ctx->used = 0;
    ctx->bytes = 0;
}

static void sha256_update(sha256_ctx *ctx, const uint8_t *p, size_t n)
{
    ctx->bytes += n;
    while (n > 0) {
        if (ctx->used == 0 && n >= 64) {
            compress(ctx->h, p);
            p += 64, n -= 64;
            continue;
        }
        size_t take = 64 - ctx->used < n ? 64 - ctx->used : n;
        memcpy(ctx->block + ctx->used, p, take);
        ctx->used += take, p += take, n -= take;
        if (ctx->used == 64) {
            compress(ctx->h, ctx->block);
            ctx->used = 0;
        }
    }
}

static void sha256_final(sha256_ctx *ctx, uint8_t out[32])
{
    uint64_t bits = ctx->bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (ctx->used < 56 ? 56 : 120) - ctx->used;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(ctx, pad, padlen + 8);
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(ctx->h[i / 4] >> (24 - 8 * (i % 4)));
}

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static int digest_is(const void *msg, size_t n, const char *want)
{
    sha256_ctx ctx;
    uint8_t d[32];
    char text[65];
    sha256_init(&ctx);
    sha256_update(&ctx, msg, n);
    sha256_final(&ctx, d);
    hex(d, text);
    return strcmp(text, want) == 0;
}

static void check_vectors(void)
{
    bench_check(digest_is("", 0,
                          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
                "sha256 of the empty message");
    bench_check(digest_is("abc", 3,
                          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
                "sha256 of 'abc'");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    bench_check(digest_is(two, strlen(two),
                          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
                "sha256 of the two-block message");
}

/* The same bytes fed in pieces of 1, 2, 3, ... must give the one-call digest. */
static void check_pieces(const uint8_t *buf, size_t n)
{
    sha256_ctx whole, pieces;
    uint8_t a[32], b[32];
    sha256_init(&whole);
    sha256_update(&whole, buf, n);
    sha256_final(&whole, a);
    sha256_init(&pieces);
    for (size_t at = 0, step = 1; at < n; at += step, step++)
        sha256_update(&pieces, buf + at, step < n - at ? step : n - at);
    sha256_final(&pieces, b);
    bench_check(memcmp(a, b, 32) == 0, "sha256 in pieces equals sha256 in one call");
}

int main(int argc, char **argv)
{
    long rounds = bench_size(argc, argv, 2000, 1);
    static uint8_t buf[65536];
    uint64_t seed = 1;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)bench_rand(&seed);
    check_vectors();
    check_pieces(buf, 5000);

    uint8_t digest[32] = {0};
    for (long r = 0; r < rounds; r++) {
        sha256_ctx ctx;
        memcpy(buf, digest, sizeof digest);
        sha256_init(&ctx);
        sha256_update(&ctx, buf, sizeof buf);
        sha256_final(&ctx, digest);
    }
    char text[65];
    hex(digest, text);
    printf("sha256 %ld x 64 KiB: %s\n", rounds, text);
    return 0;
}
