/* Page protection as Linux enforces it: each access a page's rights forbid is a SIGSEGV
 * whose si_code says why (SEGV_ACCERR: a mapped page without the right, SEGV_MAPERR:
 * nothing mapped) and whose si_addr is the byte accessed; mprotect changes take effect at
 * once; and a runaway recursion stops at the guard below the stack, before it reaches
 * the mapping placed under it. Compared with qemu-riscv64. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "segv_probe.h"

static char *canary;

static void on_overflow(int signo)
{
    (void)signo;
    printf("stack overflow: SIGSEGV on the alternate stack, the mapping below %s\n",
           strcmp(canary, "canary") == 0 ? "intact" : "overwritten");
    fflush(stdout);
    _exit(0);
}

static const char rodata[] = "constant";

static int recurse(volatile char *above, int n)
{
    volatile char frame[1024];
    frame[0] = (char)n;
    return n + recurse(frame, n + 1) + frame[0] + (above ? above[0] : 0);
}

int main(void)
{
    struct sigaction action = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
    sigaction(SIGSEGV, &action, NULL);
    int rw = PROT_READ | PROT_WRITE, anon = MAP_PRIVATE | MAP_ANONYMOUS;
    char *none = mmap(NULL, 8192, PROT_NONE, anon, -1, 0);
    char *ro = mmap(NULL, 8192, PROT_READ, anon, -1, 0);
    char *gone = mmap(NULL, 8192, rw, anon, -1, 0);
    munmap(gone, 8192);
    volatile char *p;

    TRY("store to .rodata", rodata + 3, *(volatile char *)(rodata + 3) = 1);
    TRY("store to .text", (char *)getpid, *(volatile char *)getpid = 1);
    TRY("load from a PROT_NONE page", none + 100, p = none + 100; (void)*p);
    TRY("store to a PROT_READ page", ro + 4097, *(volatile char *)(ro + 4097) = 1);
    TRY("load from a PROT_READ page", ro + 5, p = ro + 5; (void)*p);
    TRY("load from an unmapped page", gone + 8, p = gone + 8; (void)*p);
    mprotect(ro, 8192, rw);
    TRY("store after mprotect to read-write", ro + 4097, *(volatile char *)(ro + 4097) = 1);
    mprotect(ro, 4096, PROT_NONE);
    TRY("load after mprotect to PROT_NONE", ro + 7, p = ro + 7; (void)*p);
    TRY("load from the page after it", ro + 4096, p = ro + 4096; (void)*p);
    int pipe_ends[2];
    if (pipe(pipe_ends) != 0 || write(pipe_ends[1], "x", 1) != 1)
        return 1;
    printf("read(2) into a PROT_NONE page: %s\n",
           read(pipe_ends[0], none, 1) < 0 ? "an error (EFAULT), no signal" : "done");

    /* the first mapping without a hint lies just under the stack, past its guard */
    canary = mmap(NULL, 4096, rw, anon, -1, 0);
    strcpy(canary, "canary");
    stack_t alternate = {.ss_sp = malloc(65536), .ss_size = 65536};
    sigaltstack(&alternate, NULL);
    struct sigaction overflow = {.sa_handler = on_overflow, .sa_flags = SA_ONSTACK};
    sigaction(SIGSEGV, &overflow, NULL);
    return recurse(0, 0);
}
