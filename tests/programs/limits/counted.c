/* Never stops, in loops that count to a bound (mvvm/translator/bounded.py), which run
 * without polls for an interrupt only when they end soon:
 *   counted wrap B  a counter that steps by two from zero to an odd bound B: it never
 *                   lands on it, and wraps round for ever;
 *   counted far B   one that lands on its bound after B / 2 passes (2^40: hours);
 *   counted top B   one that goes on while it is at most B (2^64 - 1), from 10 below it:
 *                   near, but it wraps round to 1 and goes on for ever;
 *   counted nest B  a loop for ever around one that ends after B / 2 passes.
 * Each must still stop at a time limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void count(unsigned long bound)
{
    for (unsigned long i = 0; i != bound; i += 2)
        sink = i;
}

__attribute__((noinline)) static void top(unsigned long bound)
{
    for (unsigned long i = bound - 10; i <= bound; i += 2)
        sink = i;
}

__attribute__((noinline)) static void nest(unsigned long bound)
{
    for (;;)
        count(bound);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    unsigned long bound = strtoul(argv[2], NULL, 10);
    puts(argv[1]);
    fflush(stdout);
    if (strcmp(argv[1], "nest") == 0)
        nest(bound);
    if (strcmp(argv[1], "top") == 0)
        top(bound);
    count(bound);
    return 0;
}
