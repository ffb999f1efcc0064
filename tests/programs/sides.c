/* A loop whose branch takes one side in a run without arguments and both sides in a run
 * with one: the regions a first run leaves in the disk cache lack the second side, and a
 * later run with an argument has them translated again with it.  Prints a hash;
 * qemu-riscv64 is the reference.
 */
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argv;
    uint64_t x = 1, odd = argc > 1;
    for (uint64_t i = 0; i < 20000000; i++) {
        if (odd & i)
            x = x * 0x9e3779b97f4a7c15ull + i;
        else
            x ^= x >> 7;
    }
    printf("sides: %016llx\n", (unsigned long long)x);
    return 0;
}
