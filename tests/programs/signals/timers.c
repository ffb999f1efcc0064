/* Timers that send signals: setitimer(ITIMER_REAL) interrupting a busy loop in translated
 * code, periodically; alarm; pause, sleep and nanosleep interrupted (EINTR, the time
 * left); SA_RESTART; ITIMER_VIRTUAL on CPU time; timer_create with SIGEV_SIGNAL (si_code
 * SI_TIMER, si_value), timer_gettime, timer_delete.  Exits with its failed checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static volatile sig_atomic_t ticks, last_signo;
static volatile siginfo_t last;

static void on_tick(int sig, siginfo_t *info, void *context)
{
    ticks++;
    last_signo = sig;
    last = *info;
}

static void install(int sig, int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_tick;
    sa.sa_flags = SA_SIGINFO | flags;
    CHECK(sigaction(sig, &sa, 0) == 0);
}

static void busy_loop(void)
{
    install(SIGALRM, 0);
    struct itimerval every_5ms = {{0, 5000}, {0, 5000}}, off = {{0, 0}, {0, 0}}, now;
    ticks = 0;
    CHECK(setitimer(ITIMER_REAL, &every_5ms, 0) == 0);
    CHECK(getitimer(ITIMER_REAL, &now) == 0 && now.it_interval.tv_usec == 5000);
    while (ticks < 3)
        ;                                           /* no syscall: only the timer stops it */
    CHECK(setitimer(ITIMER_REAL, &off, &now) == 0 && now.it_interval.tv_usec == 5000);
    CHECK(last.si_signo == SIGALRM && last.si_code == SI_KERNEL);
    printf("busy loop: interrupted by the periodic timer\n");
}

static void alarm_and_pause(void)
{
    /* A periodic timer: a tick that comes before the call it is meant to interrupt (the
     * first calls are translated first) is followed by another. */
    struct itimerval every_50ms = {{0, 50000}, {0, 50000}}, off = {{0, 0}, {0, 0}};
    ticks = 0;
    CHECK(alarm(10) == 0);
    CHECK(alarm(0) >= 9);                           /* the old one's seconds left */
    setitimer(ITIMER_REAL, &every_50ms, 0);
    CHECK(pause() == -1 && errno == EINTR && ticks >= 1);
    unsigned left = sleep(5);
    CHECK(left >= 4 && left <= 5);
    struct timespec req = {5, 0}, rem = {0, 0};
    CHECK(nanosleep(&req, &rem) == -1 && errno == EINTR);
    CHECK(rem.tv_sec >= 4 && rem.tv_sec <= 5);
    setitimer(ITIMER_REAL, &off, 0);
    printf("pause, sleep and nanosleep interrupted\n");
}

static int pipe_fds[2];

static void on_tick_write(int sig)
{
    ticks++;
    write(pipe_fds[1], "x", 1);
}

static void restart(void)
{
    /* A read from an empty pipe, interrupted by a handler that writes to the pipe:
     * restarted with SA_RESTART (it then reads the byte), EINTR without.  select never
     * restarts after a handler. */
    CHECK(pipe(pipe_fds) == 0);
    struct itimerval in_100ms = {{0, 0}, {0, 100000}};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_tick_write;
    char c = 0;
    for (int flags = 0; flags <= SA_RESTART; flags += SA_RESTART) {
        sa.sa_flags = flags;
        sigaction(SIGALRM, &sa, 0);
        ticks = 0;
        setitimer(ITIMER_REAL, &in_100ms, 0);
        long got = read(pipe_fds[0], &c, 1);
        if (flags)
            CHECK(got == 1 && c == 'x' && ticks == 1);
        else
            CHECK(got == -1 && errno == EINTR && ticks == 1 && read(pipe_fds[0], &c, 1) == 1);
    }
    ticks = 0;
    setitimer(ITIMER_REAL, &in_100ms, 0);
    fd_set set;
    FD_ZERO(&set);
    FD_SET(pipe_fds[0], &set);
    struct timeval five = {5, 0};
    CHECK(select(pipe_fds[0] + 1, &set, 0, 0, &five) == -1 && errno == EINTR && ticks == 1);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    printf("read restarted with SA_RESTART, else EINTR; select EINTR\n");
}

static void cpu_time_timer(void)
{
    install(SIGVTALRM, 0);
    struct itimerval in_20ms = {{0, 0}, {0, 20000}};
    ticks = 0;
    CHECK(setitimer(ITIMER_VIRTUAL, &in_20ms, 0) == 0);
    while (!ticks)
        ;
    CHECK(last_signo == SIGVTALRM);
    printf("ITIMER_VIRTUAL fired\n");
}

static void posix_timer(void)
{
    install(SIGRTMIN, 0);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGRTMIN;
    ev.sigev_value.sival_int = 777;
    timer_t id;
    CHECK(timer_create(CLOCK_MONOTONIC, &ev, &id) == 0);
    struct itimerspec every_5ms = {{0, 5000000}, {0, 5000000}}, now;
    ticks = 0;
    CHECK(timer_settime(id, 0, &every_5ms, 0) == 0);
    CHECK(timer_gettime(id, &now) == 0 && now.it_interval.tv_nsec == 5000000);
    while (ticks < 2)
        ;
    CHECK(last.si_code == SI_TIMER && last.si_value.sival_int == 777);
    CHECK(timer_delete(id) == 0);
    CHECK(timer_gettime(id, &now) == -1 && errno == EINVAL);
    printf("timer_create: %d expiries with SI_TIMER\n", 2);
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    busy_loop();
    alarm_and_pause();
    restart();
    cpu_time_timer();
    posix_timer();
    printf("timers: %d failures\n", failures);
    return failures;
}
