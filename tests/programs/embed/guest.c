/* A guest for mvvm.Machine's tests: functions the host calls, and host functions it calls. */
#include <signal.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "mvvm.h"

long counter;
char message[64] = "hello from the guest";

long add(long a, long b) { return a + b; }
double scale(double x, double factor) { return x * factor; }
float halve(float x) { return x / 2; }
unsigned char small(void) { return 200; }

long sum10(long a, long b, long c, long d, long e, long f, long g, long h, long i, long j)
{
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j;
}

double mixed(long a, double x, long b, double y) { return a * x + b * y; }

size_t length(const char *s) { return strlen(s); }

long checksum(const unsigned char *data, long n)
{
    long sum = 0;
    for (long i = 0; i < n; i++)
        sum = sum * 31 + data[i];
    return sum;
}

long bump(void) { return ++counter; }

/* Host functions: by number and by name. */
long call_numbered(long a, long b) { return mvvm_host2(7, a, b); }
long call_named(long a) { return mvvm_host1(mvvm_id("twice"), a); }
long call_seven(void) { return mvvm_host7(mvvm_id("seven"), 1, 2, 3, 4, 5, 6, 7); }
long call_unknown(void) { return mvvm_host0(99); }
long shout(const char *s) { return mvvm_host1(mvvm_id("shout"), s); }
long call_back_sum(long n)
{
    long total = 0;
    for (long i = 0; i < n; i++)
        total += mvvm_host1(7, i);
    return total;
}

long work(long n)
{
    unsigned long x = 1;
    for (long i = 0; i < n; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    return (long)(x >> 1);
}

long spin(void)
{
    volatile long forever = 1;
    while (forever)
        counter++;
    return 0;
}

long crash(long *p) { return *p; }
long store_to(long *p) { *p = 1; return 0; }
void die(void) { abort(); }
long bye(int status) { exit(status); }
static long result(long r) { return r < 0 ? -errno : r; }
long escape_syscall(void) { return result(syscall(9999)); }
long try_fork(void) { return result(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)); }
long try_exec(void)
{
    char *argv[] = {"/bin/sh", "-c", "true", 0};
    return result(execve("/bin/sh", argv, 0));
}
long try_renice(void) { return result(setpriority(PRIO_PROCESS, 0, 19)); }
long try_setsid(void) { return result(setsid()); }
long try_umask(long mask) { return umask(mask); }
long say(const char *s) { printf("%s\n", s); fflush(stdout); return 0; }
long complain(const char *s) { fprintf(stderr, "%s\n", s); return 0; }
long try_open(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    long c = fgetc(f);
    fclose(f);
    return c;
}

int main(int argc, char **argv)
{
    printf("main: %d args, first %s\n", argc, argc > 1 ? argv[1] : "(none)");
    fflush(stdout);
    counter = 100;
    if (argc > 2) {
        mvvm_pause();
        counter += 1000;            /* run() again goes on from here */
        printf("resumed\n");
    }
    return 3;
}
