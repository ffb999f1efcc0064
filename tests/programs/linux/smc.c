/* Code that rewrites itself without fence.i (riscv-tests' Ziccid case, a JIT that patches
 * code in place): after a store into code that already ran, hot enough to be compiled, the
 * next execution runs the new code, as under qemu-riscv64 and on hardware with Ziccid.
 * Stores come from the guest (plain, atomic, and from data sharing the code's page) and
 * from the kernel (read() into the code). Compared with qemu-riscv64. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

typedef long (*function)(long);

#define RET 0x00008067u                 /* jalr x0, 0(ra) */

static uint32_t addi_a0(int value)      /* addi a0, a0, value */
{
    return 0x00050513u | (uint32_t)(value & 0xFFF) << 20;
}

static long run(function f, int times)
{
    long sum = 0;
    for (int i = 0; i < times; i++)
        sum = f(sum);
    return sum;
}

int main(void)
{
    uint32_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED)
        return 1;
    function f = (function)code;
    code[0] = addi_a0(1);
    code[1] = RET;
    __builtin___clear_cache((char *)code, (char *)(code + 2));  /* the only fence.i */
    printf("adds 1: %ld\n", run(f, 200000));

    for (int value = 2; value <= 4; value++) {
        code[0] = addi_a0(value);                       /* a plain store */
        printf("adds %d: %ld\n", value, run(f, 200000));
    }
    atomic_exchange((_Atomic uint32_t *)code, addi_a0(5));    /* an AMO (amoswap.w) */
    printf("adds 5: %ld\n", run(f, 200000));

    int ends[2];
    uint32_t patch = addi_a0(6);
    if (pipe(ends) || write(ends[1], &patch, 4) != 4 || read(ends[0], code, 4) != 4)
        return 2;
    printf("adds 6 (read into the code): %ld\n", run(f, 200000));

    /* data on the code's page, stored to between the calls */
    volatile long *counter = (volatile long *)(code + 512);
    long sum = 0;
    for (int i = 0; i < 20; i++) {
        sum = f(sum);
        *counter += 1;
    }
    printf("data beside the code: %ld, %ld stores\n", sum, *counter);
    code[0] = addi_a0(-1);
    printf("adds -1: %ld\n", run(f, 200000));

    /* A store into the very next instruction, which then runs: the new one (MVVM) or, in
     * that call, the old (qemu 7.2, whose block holding the store runs on); the next call
     * runs the new one. */
    typedef long (*patcher)(uint32_t *, uint32_t);
    uint32_t *self = code + 64;
    self[0] = 0x00b52023u;                              /* sw a1, 0(a0) */
    self[1] = 0x00100513u;                              /* li a0, 1 */
    self[2] = RET;
    __builtin___clear_cache((char *)self, (char *)(self + 3));
    int seen = 1;
    for (int i = 0; i < 4; i++) {
        long result = ((patcher)self)(self + 1, 0x00100513u + ((uint32_t)i << 20));  /* li a0, i+1 */
        seen &= result == i || result == i + 1;
    }
    printf("a store into the next instruction, run by the next call at the latest: %s\n",
           seen ? "yes" : "no");
    return 0;
}
