/* Signals and threads.  Each handler records the thread it ran on (gettid), and the program
 * checks that against the thread it meant:
 *  - pthread_kill(thread, SIGUSR1) runs the handler on that thread: one waiting in
 *    sigsuspend, one spinning in a loop without system calls; and from a thread to the main
 *    thread;
 *  - a signal sent to a thread that blocks it stays pending for that thread only, and is
 *    handled there when the thread unblocks it;
 *  - per-thread masks: kill(getpid(), SIGUSR1) goes to the one thread that does not block it
 *    (spinning), not to the main thread or two others blocked in sem_wait;
 *  - a thread's alternate stack (sigaltstack): a new thread has none; a SA_ONSTACK handler
 *    runs on the thread's own, while the main thread's handler runs on its ordinary stack;
 *  - sigwaitinfo in a dedicated thread takes a process-directed kill(getpid(), SIGUSR2)
 *    (si_code SI_USER, si_pid our pid) without the handler running;
 *  - SIGALRM from setitimer interrupts a busy loop in the one thread that does not block it;
 *  - SIGSEGV in two threads at once, 100 faults each (loads and stores in their own page of
 *    the unmapped first 64 KiB, as signals/faults.c), caught and recovered with
 *    sigsetjmp/siglongjmp; si_addr and the thread are right every time.
 * Exits with its failed checks. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static const char *yes(int c)
{
    return c ? "yes" : "no";
}

static sigset_t just(int sig)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    return set;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, 0) == 0);
}

static void block(int sig)
{
    sigset_t set = just(sig);
    pthread_sigmask(SIG_BLOCK, &set, 0);
}

static void unblock(int sig)
{
    sigset_t set = just(sig);
    pthread_sigmask(SIG_UNBLOCK, &set, 0);
}

static int blocked(int sig)
{
    sigset_t set;
    pthread_sigmask(SIG_BLOCK, 0, &set);
    return sigismember(&set, sig);
}

static int pending(int sig)
{
    sigset_t set;
    sigpending(&set);
    return sigismember(&set, sig);
}

/* SIGUSR1's handler: which thread, and how many times. */
static volatile pid_t usr1_tid;
static volatile int usr1_count;

static void on_usr1(int sig, siginfo_t *info, void *context)
{
    (void)sig, (void)info, (void)context;
    usr1_tid = gettid();
    usr1_count++;
}

static sem_t ready, go;

/* --- pthread_kill -------------------------------------------------------------------- */

static volatile pid_t target_tid;

static void *waits_in_sigsuspend(void *arg)
{
    (void)arg;
    target_tid = gettid();
    sigset_t none;
    sigemptyset(&none);
    sem_post(&ready);
    sigsuspend(&none);              /* SIGUSR1 is blocked (inherited) until here */
    return (void *)(intptr_t)(blocked(SIGUSR1) && usr1_count == 1);
}

static void *spins(void *arg)
{
    (void)arg;
    target_tid = gettid();
    unblock(SIGUSR1);
    sem_post(&ready);
    while (usr1_count == 0) {
    }
    return (void *)(intptr_t)1;
}

static pthread_t main_thread;

static void *kills_main(void *arg)
{
    (void)arg;
    sem_wait(&go);
    return (void *)(intptr_t)(pthread_kill(main_thread, SIGUSR1) == 0);
}

static void pthread_kill_targets(void)
{
    pthread_t t;
    void *ok = 0;

    usr1_count = 0, usr1_tid = 0;
    CHECK(pthread_create(&t, 0, waits_in_sigsuspend, 0) == 0);
    sem_wait(&ready);
    CHECK(pthread_kill(t, SIGUSR1) == 0);
    CHECK(pthread_join(t, &ok) == 0);
    printf("pthread_kill to a thread in sigsuspend: ran on it %s, mask back %s\n",
           yes(usr1_tid == target_tid), yes(ok != 0));
    CHECK(usr1_tid == target_tid && ok && usr1_count == 1);

    usr1_count = 0, usr1_tid = 0;
    CHECK(pthread_create(&t, 0, spins, 0) == 0);
    sem_wait(&ready);
    CHECK(pthread_kill(t, SIGUSR1) == 0);
    CHECK(pthread_join(t, &ok) == 0);
    printf("pthread_kill to a spinning thread: ran on it %s\n", yes(usr1_tid == target_tid));
    CHECK(usr1_tid == target_tid && usr1_count == 1);

    /* From another thread to the main thread, waiting in sigsuspend. */
    usr1_count = 0, usr1_tid = 0;
    main_thread = pthread_self();
    CHECK(pthread_create(&t, 0, kills_main, 0) == 0);
    sigset_t none;
    sigemptyset(&none);
    sem_post(&go);
    sigsuspend(&none);
    CHECK(pthread_join(t, &ok) == 0);
    printf("pthread_kill to the main thread: ran on it %s\n", yes(usr1_tid == getpid()));
    CHECK(usr1_tid == getpid() && ok && usr1_count == 1 && blocked(SIGUSR1));
}

/* --- A thread's own pending signals -------------------------------------------------- */

struct pending_seen {
    int pending_while_blocked, handled_before_unblock, handled_on_me;
};

static void *blocks_then_unblocks(void *arg)
{
    struct pending_seen *seen = arg;
    target_tid = gettid();
    sem_post(&ready);
    sem_wait(&go);                  /* the main thread has sent SIGUSR1 to us */
    seen->pending_while_blocked = pending(SIGUSR1);
    seen->handled_before_unblock = usr1_count;
    unblock(SIGUSR1);               /* the handler runs before this returns */
    seen->handled_on_me = usr1_count == 1 && usr1_tid == gettid();
    block(SIGUSR1);
    return 0;
}

static void thread_pending(void)
{
    struct pending_seen seen = {0, 0, 0};
    pthread_t t;
    usr1_count = 0, usr1_tid = 0;
    CHECK(pthread_create(&t, 0, blocks_then_unblocks, &seen) == 0);
    sem_wait(&ready);
    CHECK(pthread_kill(t, SIGUSR1) == 0);
    int main_sees_it = pending(SIGUSR1);
    sem_post(&go);
    CHECK(pthread_join(t, 0) == 0);
    printf("pending for the blocking thread: %s, not for the main thread: %s, "
           "handled on it when unblocked: %s\n", yes(seen.pending_while_blocked),
           yes(!main_sees_it), yes(!seen.handled_before_unblock && seen.handled_on_me));
    CHECK(seen.pending_while_blocked && !main_sees_it && seen.handled_before_unblock == 0);
    CHECK(seen.handled_on_me && !pending(SIGUSR1));
}

/* --- Process-directed signals and per-thread masks ----------------------------------- */

enum { PROCESS_SIGNALS = 5 };
static volatile int acknowledged;

static void *keeps_blocked(void *arg)
{
    (void)arg;
    sem_post(&ready);
    sem_wait(&go);                  /* blocked in futex_wait, SIGUSR1 blocked */
    return (void *)(intptr_t)(usr1_count == PROCESS_SIGNALS);
}

static void *receiver(void *arg)
{
    (void)arg;
    target_tid = gettid();
    unblock(SIGUSR1);
    sem_post(&ready);
    for (int k = 1; k <= PROCESS_SIGNALS; k++) {
        while (usr1_count < k) {
        }
        acknowledged = k;
    }
    block(SIGUSR1);
    return 0;
}

static void process_directed(void)
{
    pthread_t others[2], t;
    usr1_count = 0, usr1_tid = 0, acknowledged = 0;
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&others[i], 0, keeps_blocked, 0) == 0);
    CHECK(pthread_create(&t, 0, receiver, 0) == 0);
    for (int i = 0; i < 3; i++)
        sem_wait(&ready);
    int on_receiver = 0;
    for (int k = 1; k <= PROCESS_SIGNALS; k++) {
        usr1_tid = 0;
        kill(getpid(), SIGUSR1);
        while (acknowledged < k)
            sched_yield();
        on_receiver += usr1_tid == target_tid;
    }
    CHECK(pthread_join(t, 0) == 0);
    void *ok[2];
    for (int i = 0; i < 2; i++)
        sem_post(&go);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(others[i], &ok[i]) == 0);
    printf("kill(getpid()) x%d: handled on the one thread not blocking it %d times\n",
           PROCESS_SIGNALS, on_receiver);
    CHECK(on_receiver == PROCESS_SIGNALS && usr1_count == PROCESS_SIGNALS && ok[0] && ok[1]);
}

/* --- sigaltstack in a thread --------------------------------------------------------- */

enum { ALT_SIZE = 64 * 1024 };
static char *alt_low;
static volatile int hup_on_alt, hup_flags_inside;
static volatile pid_t hup_tid;

static void on_hup(int sig, siginfo_t *info, void *context)
{
    (void)sig, (void)info, (void)context;
    char local;
    stack_t now;
    sigaltstack(0, &now);
    hup_on_alt = alt_low && &local >= alt_low && &local < alt_low + ALT_SIZE;
    hup_flags_inside = now.ss_flags;
    hup_tid = gettid();
}

struct alt_seen {
    int had_none, on_alt, flags_inside, on_me, still_set;
};

static void *with_altstack(void *arg)
{
    struct alt_seen *seen = arg;
    stack_t old, ss = {.ss_sp = alt_low, .ss_size = ALT_SIZE, .ss_flags = 0};
    sigaltstack(0, &old);
    seen->had_none = old.ss_flags == SS_DISABLE;
    CHECK(sigaltstack(&ss, 0) == 0);
    raise(SIGHUP);                  /* raise: to this thread */
    seen->on_alt = hup_on_alt;
    seen->flags_inside = hup_flags_inside;
    seen->on_me = hup_tid == gettid();
    sigaltstack(0, &old);
    seen->still_set = old.ss_sp == alt_low && old.ss_flags == 0;
    return 0;
}

static void altstack(void)
{
    alt_low = malloc(ALT_SIZE);
    install(SIGHUP, on_hup, SA_ONSTACK);
    struct alt_seen seen = {0, 0, 0, 0, 0};
    pthread_t t;
    CHECK(pthread_create(&t, 0, with_altstack, &seen) == 0);
    CHECK(pthread_join(t, 0) == 0);
    printf("thread: no altstack at start %s; SA_ONSTACK handler on its altstack %s, "
           "SS_ONSTACK inside %s, on the thread %s\n", yes(seen.had_none), yes(seen.on_alt),
           yes(seen.flags_inside == SS_ONSTACK), yes(seen.on_me));
    CHECK(seen.had_none && seen.on_alt && seen.flags_inside == SS_ONSTACK && seen.on_me);
    CHECK(seen.still_set);

    stack_t mine;
    sigaltstack(0, &mine);
    hup_on_alt = -1;
    raise(SIGHUP);
    printf("main thread: still no altstack %s; handler on its own stack %s\n",
           yes(mine.ss_flags == SS_DISABLE), yes(hup_on_alt == 0 && hup_tid == getpid()));
    CHECK(mine.ss_flags == SS_DISABLE && hup_on_alt == 0 && hup_flags_inside == SS_DISABLE);
    CHECK(hup_tid == getpid());
}

/* --- sigwait in a dedicated thread --------------------------------------------------- */

static volatile int usr2_handled;

static void on_usr2(int sig, siginfo_t *info, void *context)
{
    (void)sig, (void)info, (void)context;
    usr2_handled++;
}

struct wait_seen {
    int sig, code, from_us, on_me;
};

static void *waiter(void *arg)
{
    struct wait_seen *seen = arg;
    sigset_t usr2 = just(SIGUSR2);
    siginfo_t info;
    sem_post(&ready);
    seen->sig = sigwaitinfo(&usr2, &info);
    seen->code = info.si_code;
    seen->from_us = info.si_pid == getpid() && info.si_uid == getuid();
    return 0;
}

static void dedicated_sigwait(void)
{
    install(SIGUSR2, on_usr2, 0);
    block(SIGUSR2);                 /* before the thread: it inherits the mask */
    struct wait_seen seen = {0, 0, 0, 0};
    pthread_t t;
    CHECK(pthread_create(&t, 0, waiter, &seen) == 0);
    sem_wait(&ready);
    CHECK(kill(getpid(), SIGUSR2) == 0);
    CHECK(pthread_join(t, 0) == 0);
    printf("sigwaitinfo in a thread: got %s, SI_USER %s, from our pid %s, handler ran %d\n",
           seen.sig == SIGUSR2 ? "SIGUSR2" : "another", yes(seen.code == SI_USER),
           yes(seen.from_us), usr2_handled);
    CHECK(seen.sig == SIGUSR2 && seen.code == SI_USER && seen.from_us && usr2_handled == 0);
    CHECK(!pending(SIGUSR2));
}

/* --- SIGALRM into a busy thread ------------------------------------------------------ */

static volatile pid_t alarm_tid;

static void on_alarm(int sig, siginfo_t *info, void *context)
{
    (void)sig, (void)info, (void)context;
    alarm_tid = gettid();
}

static void *busy(void *arg)
{
    unsigned long *spins = arg;
    target_tid = gettid();
    unblock(SIGALRM);
    sem_post(&ready);
    unsigned long x = 1;
    while (!alarm_tid) {
        x = x * 6364136223846793005ul + 1;
        ++*spins;
    }
    return (void *)(intptr_t)(x != 0);
}

static void alarm_in_thread(void)
{
    install(SIGALRM, on_alarm, 0);
    block(SIGALRM);
    unsigned long spins = 0;
    pthread_t t;
    CHECK(pthread_create(&t, 0, busy, &spins) == 0);
    sem_wait(&ready);
    struct itimerval in_20ms = {{0, 0}, {0, 20000}};
    CHECK(setitimer(ITIMER_REAL, &in_20ms, 0) == 0);
    CHECK(pthread_join(t, 0) == 0);
    printf("setitimer's SIGALRM interrupted the busy thread: %s\n",
           yes(alarm_tid == target_tid && spins > 0));
    CHECK(alarm_tid == target_tid && spins > 0);
}

/* --- SIGSEGV in threads, recovered --------------------------------------------------- */

enum { FAULTS = 100 };
static __thread sigjmp_buf *recover;
static __thread void *fault_addr;
static __thread pid_t fault_tid;

static void on_segv(int sig, siginfo_t *info, void *context)
{
    (void)sig, (void)context;
    fault_addr = info->si_addr;
    fault_tid = gettid();
    siglongjmp(*recover, 1);
}

struct fault_seen {
    uintptr_t page;
    int recovered, addr_right, on_me, unblocked_after;
};

static void *faults(void *arg)
{
    struct fault_seen *seen = arg;
    sigjmp_buf here;
    recover = &here;
    for (volatile int i = 0; i < FAULTS; i++) {
        char *at = (char *)seen->page + (i * 40) % 4096;
        if (sigsetjmp(here, 1) == 0) {
            if (i % 2)
                *(volatile char *)at = 1;
            else
                (void)*(volatile char *)at;
            continue;                       /* not reached: the access faults */
        }
        seen->recovered++;
        seen->addr_right += fault_addr == at;
        seen->on_me += fault_tid == gettid();
    }
    seen->unblocked_after = !blocked(SIGSEGV);
    return 0;
}

static void segv_in_threads(void)
{
    install(SIGSEGV, on_segv, 0);
    struct fault_seen seen[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        memset(&seen[i], 0, sizeof seen[i]);
        seen[i].page = 0x1000 * (i + 1);
    }
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], 0, faults, &seen[i]) == 0);
    for (int i = 0; i < 2; i++) {
        CHECK(pthread_join(t[i], 0) == 0);
        printf("SIGSEGV in thread %d: %d of %d recovered, si_addr right %d, on the thread %d,"
               " unblocked after %s\n", i, seen[i].recovered, FAULTS, seen[i].addr_right,
               seen[i].on_me, yes(seen[i].unblocked_after));
        CHECK(seen[i].recovered == FAULTS && seen[i].addr_right == FAULTS);
        CHECK(seen[i].on_me == FAULTS && seen[i].unblocked_after);
    }
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    sem_init(&ready, 0, 0);
    sem_init(&go, 0, 0);
    install(SIGUSR1, on_usr1, 0);
    block(SIGUSR1);                 /* threads inherit it; some unblock it themselves */
    pthread_kill_targets();
    thread_pending();
    process_directed();
    altstack();
    dedicated_sigwait();
    alarm_in_thread();
    segv_in_threads();
    printf("signals: %d failures\n", failures);
    return failures;
}
