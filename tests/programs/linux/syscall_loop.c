/* A syscall round trip, measured: argv[1] getppid calls in a loop (raw syscalls, so that
   nothing caches the answer). Prints nothing; the caller times it. */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000;
    long sum = 0;
    for (long i = 0; i < n; i++) sum += syscall(SYS_getppid);
    return sum == 0 && n > 0;
}
