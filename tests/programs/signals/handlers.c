/* Signal handlers on the main thread: raise/kill/sigqueue to self with SA_SIGINFO fields,
 * masks (sa_mask, the signal itself, SA_NODEFER), SA_RESETHAND, rt_sigprocmask blocking
 * then unblocking a pending signal, sigpending, SIG_IGN, and a handler on an alternate
 * stack (SA_ONSTACK, SS_ONSTACK inside, SS_AUTODISARM).  Exits with its failed checks. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static volatile sig_atomic_t count, depth, max_depth, calls;
static siginfo_t last;
static sigset_t mask_inside, saved_mask;

static void on_info(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    last = *info;
    saved_mask = uc->uc_sigmask;
    sigprocmask(SIG_BLOCK, 0, &mask_inside);
    count++;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags, int also_block)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (also_block)
        sigaddset(&sa.sa_mask, also_block);
    CHECK(sigaction(sig, &sa, 0) == 0);
}

static void fields(void)
{
    install(SIGUSR1, on_info, 0, SIGUSR2);
    count = 0;
    CHECK(raise(SIGUSR1) == 0);
    CHECK(count == 1);
    CHECK(last.si_signo == SIGUSR1 && last.si_code == SI_TKILL && last.si_pid == getpid());
    CHECK(last.si_uid == getuid());
    CHECK(sigismember(&mask_inside, SIGUSR1));     /* sa_mask: see samask.c */
    CHECK(!sigismember(&saved_mask, SIGUSR1) && !sigismember(&saved_mask, SIGUSR2));
    sigset_t now;
    sigprocmask(SIG_BLOCK, 0, &now);
    CHECK(!sigismember(&now, SIGUSR1));             /* the old mask is back */

    CHECK(kill(getpid(), SIGUSR1) == 0);
    CHECK(count == 2 && last.si_code == SI_USER && last.si_pid == getpid());

    union sigval value = {.sival_int = 4242};
    CHECK(sigqueue(getpid(), SIGUSR1, value) == 0);
    CHECK(count == 3 && last.si_code == SI_QUEUE && last.si_value.sival_int == 4242);
    printf("fields: %d deliveries\n", (int)count);
}

static void blocked_then_unblocked(void)
{
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    count = 0;
    CHECK(sigprocmask(SIG_BLOCK, &set, 0) == 0);
    raise(SIGUSR1);
    raise(SIGUSR1);                                 /* a standard signal is pending once */
    CHECK(count == 0);
    CHECK(sigpending(&pending) == 0 && sigismember(&pending, SIGUSR1));
    CHECK(sigprocmask(SIG_UNBLOCK, &set, 0) == 0);
    CHECK(count == 1);
    CHECK(sigpending(&pending) == 0 && !sigismember(&pending, SIGUSR1));
    printf("blocked: delivered %d time(s) on unblock\n", (int)count);
}

static void rt_queue(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    install(SIGRTMIN + 1, on_info, 0, 0);
    count = 0;
    sigprocmask(SIG_BLOCK, &set, 0);
    for (int i = 0; i < 3; i++) {
        union sigval v = {.sival_int = i};
        sigqueue(getpid(), SIGRTMIN + 1, v);
    }
    sigprocmask(SIG_UNBLOCK, &set, 0);
    CHECK(count == 3 && last.si_value.sival_int == 2);   /* real-time signals queue */
    printf("realtime: %d queued deliveries\n", (int)count);
}

static void on_nested(int sig, siginfo_t *info, void *context)
{
    depth++;
    if (depth > max_depth)
        max_depth = depth;
    if (++calls < 3)
        raise(sig);
    depth--;
}

static void nodefer_and_resethand(void)
{
    install(SIGUSR2, on_nested, SA_NODEFER, 0);
    max_depth = calls = 0;
    raise(SIGUSR2);
    CHECK(max_depth == 3 && calls == 3);
    install(SIGUSR2, on_nested, 0, 0);              /* deferred: runs after the handler */
    max_depth = calls = 0;
    raise(SIGUSR2);
    CHECK(max_depth == 1 && calls == 3);
    install(SIGUSR2, on_info, SA_RESETHAND, 0);
    count = 0;
    raise(SIGUSR2);
    struct sigaction now;
    sigaction(SIGUSR2, 0, &now);
    CHECK(count == 1 && now.sa_handler == SIG_DFL);
    printf("nodefer depth %d, resethand ok\n", 3);
}

static void ignored(void)
{
    signal(SIGUSR1, SIG_IGN);
    CHECK(raise(SIGUSR1) == 0);
    signal(SIGCHLD, SIG_DFL);
    CHECK(raise(SIGCHLD) == 0);                     /* ignored by default */
    signal(SIGWINCH, SIG_DFL);
    CHECK(raise(SIGWINCH) == 0);
    printf("ignored signals are ignored\n");
}

static char *alt_base;
static size_t alt_size = 64 * 1024;
static volatile int on_alt, reported_onstack;

static void on_altstack(int sig, siginfo_t *info, void *context)
{
    char local;
    stack_t ss;
    on_alt = &local > alt_base && &local < alt_base + alt_size;
    sigaltstack(0, &ss);
    reported_onstack = ss.ss_flags;
}

static void altstack(void)
{
    alt_base = malloc(alt_size);
    stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0}, old;
    CHECK(sigaltstack(&ss, 0) == 0);
    install(SIGUSR1, on_altstack, SA_ONSTACK, 0);
    raise(SIGUSR1);
    CHECK(on_alt == 1 && reported_onstack == SS_ONSTACK);
    install(SIGUSR1, on_altstack, 0, 0);
    raise(SIGUSR1);
    CHECK(on_alt == 0 && reported_onstack == 0);
    CHECK(sigaltstack(0, &old) == 0 && old.ss_sp == alt_base && old.ss_flags == 0);
    ss.ss_size = 100;
    CHECK(sigaltstack(&ss, 0) == -1);               /* ENOMEM: below MINSIGSTKSZ */
    ss.ss_flags = SS_DISABLE;
    CHECK(sigaltstack(&ss, 0) == 0);
    CHECK(sigaltstack(0, &old) == 0 && old.ss_flags == SS_DISABLE);
    printf("alternate stack: handler ran on it\n");
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    fields();
    blocked_then_unblocked();
    rt_queue();
    nodefer_and_resethand();
    ignored();
    altstack();
    printf("handlers: %d failures\n", failures);
    return failures;
}
