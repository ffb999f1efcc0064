/* What qemu-riscv64 7.2 gets wrong or lacks, so this program's output is checked against
 * what Linux prints: a handler's sa_mask is blocked while it runs (qemu ignores it), and
 * an SS_AUTODISARM alternate stack is disabled while a handler runs on it (qemu refuses
 * the flag).  Exits with its failed checks. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static sigset_t inside;
static volatile sig_atomic_t usr2_seen_inside, usr2_handled;
static volatile int flags_inside = -1;

static void on_usr2(int sig)
{
    usr2_handled++;
}

static void on_usr1(int sig)
{
    sigprocmask(SIG_BLOCK, 0, &inside);
    raise(SIGUSR2);                                 /* blocked by sa_mask: after return */
    usr2_seen_inside = usr2_handled;
}

static void on_altstack(int sig)
{
    stack_t ss;
    sigaltstack(0, &ss);
    flags_inside = ss.ss_flags;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, 0);
    signal(SIGUSR2, on_usr2);
    raise(SIGUSR1);
    sigset_t after;
    sigprocmask(SIG_BLOCK, 0, &after);
    int failures = !sigismember(&inside, SIGUSR1) + !sigismember(&inside, SIGUSR2)
        + (usr2_seen_inside != 0) + (usr2_handled != 1) + sigismember(&after, SIGUSR2);
    printf("sa_mask: USR1 blocked %d, USR2 blocked %d; USR2 ran inside %d, after %d\n",
           sigismember(&inside, SIGUSR1), sigismember(&inside, SIGUSR2),
           (int)usr2_seen_inside, (int)usr2_handled);

    stack_t ss = {.ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = SS_AUTODISARM}, old;
    failures += sigaltstack(&ss, 0) != 0;
    sa.sa_handler = on_altstack;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, 0);
    raise(SIGUSR1);
    sigaltstack(0, &old);
    failures += flags_inside != SS_DISABLE || old.ss_flags != (int)SS_AUTODISARM;
    printf("SS_AUTODISARM: flags %#x inside the handler, %#x after\n", flags_inside,
           old.ss_flags);
    return failures;
}
