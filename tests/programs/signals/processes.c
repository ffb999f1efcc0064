/* Signals between processes: a parent signals children that catch SIGUSR1 (while one
 * waits in pause, and while another spins in a loop without syscalls), ignore SIGTERM,
 * or die of SIGUSR2's default action; the parent's SIGCHLD handler runs as they end.
 * Exits with its failed checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static volatile sig_atomic_t got, children_ended;
static int ready[2];

static void on_usr1(int sig)
{
    got = sig;
}

static void on_chld(int sig)
{
    children_ended++;
}

static void tell_parent(void)
{
    CHECK(write(ready[1], "r", 1) == 1);
}

static pid_t start(int how)
{
    pid_t pid = fork();
    if (pid)
        return pid;
    if (how == 0) {                       /* catch SIGUSR1 while waiting in pause */
        signal(SIGUSR1, on_usr1);
        tell_parent();
        while (!got)
            pause();
        _exit(got);
    }
    if (how == 1) {                       /* catch SIGUSR1 while spinning */
        signal(SIGUSR1, on_usr1);
        tell_parent();
        for (volatile unsigned long i = 0; !got; i++)
            ;
        _exit(got + 1);
    }
    if (how == 2) {                       /* ignore SIGTERM, then exit when told (SIGUSR1) */
        signal(SIGTERM, SIG_IGN);
        signal(SIGUSR1, on_usr1);
        tell_parent();
        while (!got)
            pause();
        _exit(3);
    }
    tell_parent();                        /* SIGUSR2 by its default action */
    for (;;)
        pause();
}

static int wait_for(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    CHECK(pipe(ready) == 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, 0);

    pid_t child[4];
    char c;
    for (int i = 0; i < 4; i++) {
        child[i] = start(i);
        CHECK(read(ready[0], &c, 1) == 1);
    }
    kill(child[0], SIGUSR1);
    kill(child[1], SIGUSR1);
    kill(child[2], SIGTERM);
    kill(child[3], SIGUSR2);
    int status = wait_for(child[0]);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == SIGUSR1);
    status = wait_for(child[1]);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == SIGUSR1 + 1);
    status = wait_for(child[3]);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR2);
    kill(child[2], SIGUSR1);                       /* it survived SIGTERM */
    status = wait_for(child[2]);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    for (int i = 0; i < 100 && children_ended < 4; i++)
        usleep(1000);
    CHECK(children_ended >= 1);
    printf("processes: %d failures\n", failures);
    return failures;
}
