/* A store to address 0: SIGSEGV, so the shell sees 139. */
#include <stdio.h>

int main(void)
{
    volatile int *volatile p = 0;
    printf("about to store to NULL\n");
    fflush(stdout);
    *p = 42;
    printf("stored\n"); /* never reached */
    return 0;
}
