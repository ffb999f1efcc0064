/* Shared anonymous memory across fork: what the child stores, the parent reads.  Exits
 * with 0 when it does. */
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        return 2;
    *shared = 1;
    if (fork() == 0) {
        *shared = 42;
        _exit(0);
    }
    wait(NULL);
    printf("the parent reads %d\n", *shared);
    return *shared == 42 ? 0 : 1;
}
