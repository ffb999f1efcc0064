/* Time and identity: every clock, sleeps, times, getrusage, sysinfo, uname, ids, limits,
   affinity, prctl, and sched_yield. The values differ from run to run: only their
   consistency is checked and printed. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s (errno %d)\n", __LINE__, #c, errno); failures++; } } while (0)

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(void) {
    clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                          CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
                          CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME};
    for (unsigned i = 0; i < sizeof clocks / sizeof *clocks; i++) {
        struct timespec a, b, res;
        CHECK(clock_gettime(clocks[i], &a) == 0);
        CHECK(clock_gettime(clocks[i], &b) == 0 && ns(b) >= ns(a));
        CHECK(clock_getres(clocks[i], &res) == 0 && ns(res) > 0);
    }
    struct timespec before, after, req = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &before);
    CHECK(nanosleep(&req, NULL) == 0);
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL) == 0);
    clock_gettime(CLOCK_MONOTONIC, &after);
    CHECK(ns(after) - ns(before) >= 40 * 1000 * 1000);
    struct timespec deadline = after;
    deadline.tv_nsec += 10 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000; }
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == 0);
    /* time() reads the coarse clock, which may lag gettimeofday's by a tick: read it first. */
    time_t coarse = time(NULL);
    struct timeval tv;
    CHECK(gettimeofday(&tv, NULL) == 0 && tv.tv_sec > 1600000000);
    CHECK(coarse <= tv.tv_sec);
    struct tms t;
    CHECK(times(&t) != (clock_t)-1);
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0 && getrusage(RUSAGE_CHILDREN, &ru) == 0);
    struct sysinfo si;
    CHECK(sysinfo(&si) == 0 && si.totalram > 0 && si.uptime > 0);
    struct utsname u;
    CHECK(uname(&u) == 0 && strcmp(u.sysname, "Linux") == 0 && strcmp(u.machine, "riscv64") == 0);

    CHECK(getpid() > 0 && getppid() > 0 && gettid() == getpid());
    CHECK(getuid() == geteuid() && getgid() == getegid());
    uid_t r, e, s;
    CHECK(getresuid(&r, &e, &s) == 0 && r == getuid());
    gid_t groups[256];
    CHECK(getgroups(256, groups) >= 0);
    CHECK(setuid(getuid()) == 0);
    /* 0 is a valid answer: in a container the session leader may sit outside our pid namespace. */
    CHECK(getpgid(0) >= 0 && getsid(0) >= 0 && getpgid(0) == getpgid(getpid()));

    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 0);
    struct rlimit lower = {64, rl.rlim_max};
    CHECK(setrlimit(RLIMIT_NOFILE, &lower) == 0);
    CHECK(prlimit(0, RLIMIT_NOFILE, NULL, &rl) == 0 && rl.rlim_cur == 64);
    CHECK(getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur >= 8 << 20);

    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1);
    CHECK(sched_yield() == 0);
    CHECK(sysconf(_SC_NPROCESSORS_ONLN) >= 1);

    char name[16] = {0};
    CHECK(prctl(PR_SET_NAME, "mvvm-test", 0, 0, 0) == 0);
    CHECK(prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && strcmp(name, "mvvm-test") == 0);
    CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) >= 0);
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
    printf("system: %d failures\n", failures);
    return failures;
}
