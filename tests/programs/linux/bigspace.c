/* A 64-bit address space as Linux gives one: a reservation of 6 GiB (what a wasm runtime
 * makes for each memory) succeeds, pointers more than 4 GiB into it reach their own bytes
 * with every kind of access (no wrap onto the bytes 4 GiB below), and an access outside
 * every mapping, however high, is SIGSEGV with the address in si_addr. Compared with
 * qemu-riscv64. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "segv_probe.h"

#define GIB (1ul << 30)

/* Every access kind at p, which holds `seed` as a long: loads, stores, an AMO, LR/SC
 * (through the compare-exchange), a double; the sum tells them apart. */
static long exercise(volatile long *p, long seed)
{
    long sum = *p;
    *p = sum + 1;
    sum += atomic_fetch_add((_Atomic long *)p, 2);
    long old = *p;
    atomic_compare_exchange_strong((_Atomic long *)p, &old, old * 3);
    sum += *p;
    volatile double *d = (volatile double *)(p + 1);
    *d = (double)seed / 4;
    sum += (long)(*d * 8);
    ((volatile char *)p)[20] = 7;
    return sum + ((volatile char *)p)[20];
}

int main(void)
{
    struct sigaction action = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
    sigaction(SIGSEGV, &action, NULL);
    int anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    char *space = mmap(NULL, 6 * GIB, PROT_NONE, anon, -1, 0);
    printf("6 GiB PROT_NONE reservation: %s\n", space == MAP_FAILED ? "failed" : "made");
    if (space == MAP_FAILED)
        return 1;
    char *low = space + GIB + 4096, *high = space + 5 * GIB + 4096;
    printf("a pointer into it above 4 GiB: %s\n", (uintptr_t)high >= 4 * GIB ? "yes" : "no");
    int rw = PROT_READ | PROT_WRITE;
    if (mprotect(low, 4096, rw) || mprotect(high, 4096, rw))
        return 2;
    *(long *)low = 10;
    *(long *)high = 1000;
    long a = exercise((volatile long *)high, 1000), b = exercise((volatile long *)low, 10);
    printf("accesses 4 GiB apart: %ld and %ld, %s\n", a, b,
           *(long *)high != *(long *)low ? "apart" : "the same bytes");

    TRY("load from the reservation 4 GiB above an open page", low + 4 * GIB + 4096,
        (void)*(volatile char *)(low + 4 * GIB + 4096));
    TRY("store to the reservation's last byte", space + 6 * GIB - 1,
        *(volatile char *)(space + 6 * GIB - 1) = 1);
    munmap(space, 6 * GIB);
    TRY("load from where it was", high, (void)*(volatile char *)high);
    TRY("store to 0x7fff00010000", 0x7fff00010000ul, *(volatile long *)0x7fff00010000ul = 1);
    TRY("load from 1 << 40", 1ul << 40, (void)*(volatile char *)(1ul << 40));
    TRY("load from -4096", (uintptr_t)-4096, (void)*(volatile char *)(uintptr_t)-4096);

    char *big = mmap(NULL, 6 * GIB, rw, anon, -1, 0);
    printf("6 GiB read-write mapping: %s", big == MAP_FAILED ? "failed\n" : "made");
    if (big != MAP_FAILED) {
        big[6 * GIB - 1] = 'z';
        big[2 * GIB - 1] = 'a';
        printf(", last byte %c, the byte 4 GiB below %c\n", big[6 * GIB - 1], big[2 * GIB - 1]);
    }
    return 0;
}
