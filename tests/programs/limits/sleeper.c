/* Never stops: blocked in a syscall (nanosleep for a day), not in translated code. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    puts("sleeping");
    fflush(stdout);
    for (;;)
        sleep(86400);
}
