/* The main thread's stack: the size of its [stack] mapping in /proc/self/maps (qemu's -s
 * sets it), then, given argv[1] = N, a recursion that uses N MiB of it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long stack_kib(void)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    unsigned long low, high;
    long kib = -1;
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &low, &high) == 2)
            kib = (long)((high - low) / 1024);
    if (maps)
        fclose(maps);
    return kib;
}

/* Each level holds 4 KiB on the stack and sums it, so no compiler can drop the frame. */
__attribute__((noinline)) static long deep(long levels)
{
    volatile char frame[4096];
    for (int i = 0; i < 4096; i += 512)
        frame[i] = (char)(levels + i);
    long below = levels > 1 ? deep(levels - 1) : 0;
    return below + frame[levels % 8 * 512];
}

int main(int argc, char **argv)
{
    printf("stack %ld KiB\n", stack_kib());
    if (argc > 1) {
        long mib = atol(argv[1]);
        printf("%ld MiB deep: %ld\n", mib, deep(mib * 256));
    }
    return 0;
}
