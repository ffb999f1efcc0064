/* A write to a pipe whose read end is closed: SIGPIPE, whose default action ends the
 * process without a core dump, and so without a word from Linux or qemu: status 141. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    close(fds[0]);
    printf("about to write to a pipe nobody reads\n");
    fflush(stdout);
    (void)write(fds[1], "x", 1);
    return 2;
}
