/* Branches over a few integer instructions, which tier 1 turns into selects
 * (mvvm/translator/hammocks.py): a bit-serial CRC whose branch follows the data, clamps,
 * a min/max swap that writes two registers, and a sign fix-up that reads what the side
 * wrote. Each runs over pseudo-random inputs, hot enough for tier 1; the output is their
 * checksums, compared with qemu-riscv64's. */
#include <stdint.h>
#include <stdio.h>

__attribute__((noinline)) static uint16_t crc16(uint16_t crc, uint8_t byte)
{
    for (int bit = 0; bit < 8; bit++) {
        uint16_t mix = (crc ^ byte) & 1;
        crc >>= 1;
        if (mix)
            crc ^= 0xA001;
        byte >>= 1;
    }
    return crc;
}

__attribute__((noinline)) static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return v;
}

__attribute__((noinline)) static uint64_t ordered(uint64_t a, uint64_t b)
{
    if (a > b) {
        uint64_t t = a;
        a = b;
        b = t;
    }
    return a * 1000003 + (b >> 3);
}

__attribute__((noinline)) static int32_t magnitude(int32_t v, int32_t bias)
{
    int32_t m = v;
    if (m < 0)
        m = -m + bias;
    return m * 3 + (m >> 2);
}

int main(void)
{
    uint64_t seed = 0x9E3779B97F4A7C15u, sums[4] = {0, 0, 0, 0};
    uint16_t crc = 0xFFFF;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        uint64_t r = seed >> 11;
        crc = crc16(crc, (uint8_t)r);
        sums[1] += (uint64_t)clamp((int64_t)(r % 2001) - 1000, -300, 700);
        sums[2] += ordered(r & 0xFFFF, (r >> 16) & 0xFFFF);
        sums[3] += (uint64_t)(int64_t)magnitude((int32_t)(r >> 20) - (1 << 22), (int32_t)(r & 7));
    }
    sums[0] = crc;
    printf("crc16 %04x clamp %llu ordered %llu magnitude %llu\n", (unsigned)sums[0],
           (unsigned long long)sums[1], (unsigned long long)sums[2],
           (unsigned long long)sums[3]);
    return 0;
}
