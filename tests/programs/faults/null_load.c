/* A load from address 0: SIGSEGV, so the shell sees 139.  The line before it is flushed
 * first and must still reach stdout. */
#include <stdio.h>

int main(void)
{
    volatile int *volatile p = 0;
    printf("about to load from NULL\n");
    fflush(stdout);
    int v = *p;
    printf("loaded %d\n", v); /* never reached */
    return 0;
}
