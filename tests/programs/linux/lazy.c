/* A large anonymous mapping the guest barely touches: Linux backs only the pages written.
 * Maps 1 GiB, writes one byte in every 64th MiB, checks the rest reads as zero. */
#include <stdio.h>
#include <sys/mman.h>

#define SIZE (1UL << 30)
#define STEP (64UL << 20)

int main(void)
{
    unsigned char *p = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
    unsigned long ones = 0;
    for (unsigned long at = 0; at < SIZE; at += STEP)
        p[at] = 1;
    for (unsigned long at = 0; at < SIZE; at += STEP / 16)
        ones += p[at];
    printf("lazy: %lu pages written, the others zero\n", ones);
    return 0;
}
