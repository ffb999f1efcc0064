/* A call to an address where nothing is mapped: SIGSEGV (an instruction fetch fault), 139. */
#include <stdint.h>
#include <stdio.h>

int main(void)
{
    void (*volatile target)(void) = (void (*)(void))(uintptr_t)0xdead0000;
    printf("about to jump to 0xdead0000\n");
    fflush(stdout);
    target();
    printf("came back\n"); /* never reached */
    return 0;
}
