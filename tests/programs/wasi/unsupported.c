/* What a WASI module cannot do gets ENOSYS: a socket, and fork (clone), which also
   says so on stderr. Links fork in, so `mvvm wasm` warns when it builds the module. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    printf("socket: %d %s\n", s, errno == ENOSYS ? "ENOSYS" : strerror(errno));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0)
        return 3;
    printf("fork: %d %s\n", (int)child, errno == ENOSYS ? "ENOSYS" : strerror(errno));
    return 0;
}
