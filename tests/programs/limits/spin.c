/* Never stops: a tight loop inside one translated region. */
#include <stdio.h>

int main(void) {
    volatile unsigned long n = 0;
    puts("spinning");
    fflush(stdout);
    for (;;)
        n++;
}
