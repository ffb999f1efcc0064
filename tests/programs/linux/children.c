/* Waiting for and signalling children as Linux does: a stopped child stays a child (it
 * can be continued and waited for again), a child reaped behind the guest's back (SIGCHLD
 * ignored) leaves wait with ECHILD, kill(0) reaches the children in the caller's process
 * group, and kill(-pgid) a child's own group. Compared with qemu-riscv64. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, int result, int status)
{
    printf("%s: %s, status %#x\n", what, result < 0 ? strerror(errno) : "done", status);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    setpgid(0, 0);                      /* kill(0) below must reach no process around it */
    int status = 0;
    pid_t child = fork();
    if (child == 0) {
        raise(SIGSTOP);
        _exit(5);
    }
    report("waitpid WUNTRACED", waitpid(child, &status, WUNTRACED) == child ? 0 : -1, status);
    report("kill SIGCONT to the stopped child", kill(child, SIGCONT), 0);
    report("waitpid for its end", waitpid(child, &status, 0) == child ? 0 : -1, status);

    signal(SIGTERM, SIG_IGN);           /* kill(0) reaches this process too */
    child = fork();
    if (child == 0) {
        signal(SIGTERM, SIG_DFL);
        pause();
        _exit(0);
    }
    usleep(100000);
    report("kill(0, SIGTERM)", kill(0, SIGTERM), 0);
    report("waitpid for the group's child", waitpid(child, &status, 0) == child ? 0 : -1,
           status);
    child = fork();
    if (child == 0) {
        setpgid(0, 0);
        pause();
        _exit(0);
    }
    setpgid(child, child);              /* as a shell puts a job in a group of its own */
    usleep(100000);
    report("kill(-pgid) of the child's group", kill(-child, SIGKILL), 0);
    report("waitpid for that child", waitpid(child, &status, 0) == child ? 0 : -1, status);

    signal(SIGCHLD, SIG_IGN);           /* children are reaped as they end */
    if (fork() == 0)
        _exit(1);
    usleep(200000);
    report("wait with SIGCHLD ignored", wait(&status), 0);
    return 0;
}
