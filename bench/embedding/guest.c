/* The guest of `python3 -m bench.embed`: what mvvm.Machine's latencies are measured on.
   As a program (under `mvvm run`), it runs work(N) from argv and prints the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvvm.h"

long add(long a, long b) { return a + b; }

/* Four instructions per iteration (an LCG step and the loop), nine more around them. */
long work(long n)
{
    unsigned long x = 1;
    for (long i = 0; i < n; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    return (long)(x >> 1);
}

/* n guest-to-host calls and back. */
long callbacks(long n)
{
    long total = 0;
    for (long i = 0; i < n; i++)
        total += mvvm_host1(1, i);
    return total;
}

/* Write `bytes` of memory (allocated at the first call): what a snapshot has to keep. */
long touch(long bytes)
{
    static char *p;
    static long value;
    if (!p)
        p = malloc(bytes);
    if (p)
        memset(p, (int)++value, bytes);
    return p != NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        printf("%ld\n", work(atol(argv[1])));
    return 0;
}
