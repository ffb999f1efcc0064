/* TRY(what, address, access): do the access, expecting a SIGSEGV at address, and print
 * what came of it: the si_code (SEGV_ACCERR: a mapped page without the right,
 * SEGV_MAPERR: nothing mapped) and whether si_addr is the byte accessed, or "no fault".
 * main installs on_segv (SA_SIGINFO) first. Shared by protect.c and bigspace.c. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>

static sigjmp_buf back;
static volatile char *expected;

static void on_segv(int signo, siginfo_t *info, void *context)
{
    (void)signo, (void)context;
    const char *why = info->si_code == SEGV_ACCERR   ? "SEGV_ACCERR"
                      : info->si_code == SEGV_MAPERR ? "SEGV_MAPERR"
                                                     : "another si_code";
    printf("  SIGSEGV, %s, si_addr %s\n", why,
           (volatile char *)info->si_addr == expected ? "the byte accessed" : "wrong");
    siglongjmp(back, 1);
}

#define TRY(what, address, access)                                                        \
    do {                                                                                  \
        printf("%s\n", what);                                                             \
        fflush(stdout);                                                                   \
        expected = (volatile char *)(address);                                            \
        if (!sigsetjmp(back, 1)) {                                                        \
            access;                                                                       \
            printf("  no fault\n");                                                       \
        }                                                                                 \
    } while (0)
