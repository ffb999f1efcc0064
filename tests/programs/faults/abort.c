/* abort(): glibc raises SIGABRT (rt_sigprocmask, then tgkill on its own thread) and the
 * process dies of it, with no handler installed: status 134. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    printf("about to abort\n");
    fflush(stdout);
    abort();
}
