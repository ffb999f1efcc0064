/* Waiting for signals: sigwait and sigwaitinfo take a blocked pending signal without a
 * handler running; sigtimedwait times out with EAGAIN, and takes a timer's signal when it
 * comes; sigsuspend runs the handler and restores the blocked mask.  Exits with its
 * failed checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static volatile sig_atomic_t handled;

static void on_signal(int sig)
{
    handled = sig;
}

static sigset_t just(int sig)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    return set;
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    signal(SIGUSR1, on_signal);
    signal(SIGALRM, on_signal);
    sigset_t usr1 = just(SIGUSR1), alrm = just(SIGALRM), none, now;
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &usr1, 0);
    sigprocmask(SIG_BLOCK, &alrm, 0);

    int sig = 0;
    raise(SIGUSR1);
    CHECK(sigwait(&usr1, &sig) == 0 && sig == SIGUSR1 && handled == 0);

    union sigval value = {.sival_int = 99};
    siginfo_t info;
    sigqueue(getpid(), SIGUSR1, value);
    CHECK(sigwaitinfo(&usr1, &info) == SIGUSR1 && info.si_code == SI_QUEUE);
    CHECK(info.si_value.sival_int == 99 && handled == 0);

    struct timespec ten_ms = {0, 10000000}, five_s = {5, 0};
    CHECK(sigtimedwait(&usr1, &info, &ten_ms) == -1 && errno == EAGAIN);

    struct itimerval in_10ms = {{0, 0}, {0, 10000}};
    setitimer(ITIMER_REAL, &in_10ms, 0);
    CHECK(sigtimedwait(&alrm, &info, &five_s) == SIGALRM && info.si_code == SI_KERNEL);
    CHECK(handled == 0);
    printf("sigwait, sigwaitinfo, sigtimedwait: no handler ran\n");

    setitimer(ITIMER_REAL, &in_10ms, 0);
    CHECK(sigsuspend(&none) == -1 && errno == EINTR && handled == SIGALRM);
    sigprocmask(SIG_BLOCK, 0, &now);
    CHECK(sigismember(&now, SIGALRM) && sigismember(&now, SIGUSR1));
    printf("sigsuspend: the handler ran, the mask is back\n");

    handled = 0;
    raise(SIGUSR1);
    CHECK(handled == 0);
    sigprocmask(SIG_UNBLOCK, &usr1, 0);
    CHECK(handled == SIGUSR1);
    printf("wait: %d failures\n", failures);
    return failures;
}
