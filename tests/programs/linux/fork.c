/* fork, pipes between parent and child, wait4/waitid statuses (exit and signal), vfork,
   posix_spawn and execve of this same program (argv[1] == "child" selects the child role). */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static int failures;
#define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static int exec_child(int argc, char **argv) {
    printf("exec child: argc=%d arg2=%s env=%s\n", argc, argc > 2 ? argv[2] : "-",
           getenv("MVVM_CHILD") ? getenv("MVVM_CHILD") : "-");
    fflush(stdout);
    return argc > 2 ? atoi(argv[2]) : 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) return exec_child(argc, argv);
    setvbuf(stdout, NULL, _IONBF, 0);

    /* fork + pipe: the child writes, the parent reads, then reaps an exit status. */
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        char msg[64];
        int n = snprintf(msg, sizeof msg, "from child, parent is %s", getppid() > 0 ? "known" : "?");
        write(fds[1], msg, n);
        _exit(7);
    }
    CHECK(pid > 0);
    close(fds[1]);
    char buf[128] = {0};
    ssize_t got = 0, n;
    while ((n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0) got += n;
    printf("parent read: %s\n", buf);
    int status = 0;
    struct rusage ru;
    CHECK(wait4(pid, &status, 0, &ru) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    printf("child exited with %d\n", WEXITSTATUS(status));

    /* A child killed by a signal is reported as such. */
    pid = fork();
    if (pid == 0) { raise(SIGTERM); _exit(1); }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    printf("child killed by signal %d\n", WTERMSIG(status));

    /* A write to a pipe nobody reads kills with SIGPIPE by default. */
    pid = fork();
    if (pid == 0) { int q[2]; pipe(q); close(q[0]); write(q[1], "x", 1); _exit(1); }
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);

    /* The parent kills a child that waits in pause(). */
    int sync_fds[2];
    CHECK(pipe(sync_fds) == 0);
    pid = fork();
    if (pid == 0) { close(sync_fds[0]); write(sync_fds[1], "x", 1); for (;;) pause(); }
    close(sync_fds[1]);
    CHECK(read(sync_fds[0], buf, 1) == 1);
    CHECK(kill(pid, SIGKILL) == 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* waitid and WNOHANG. */
    pid = fork();
    if (pid == 0) { usleep(20000); _exit(3); }
    CHECK(waitpid(pid, &status, WNOHANG) == 0);
    siginfo_t info;
    memset(&info, 0, sizeof info);
    CHECK(waitid(P_PID, pid, &info, WEXITED) == 0);
    CHECK(info.si_pid == pid && info.si_code == CLD_EXITED && info.si_status == 3);
    CHECK(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);

    /* vfork + execve of this program. */
    pid = vfork();
    if (pid == 0) {
        char *args[] = {argv[0], "child", "5", NULL};
        char *env[] = {"MVVM_CHILD=vforked", NULL};
        execve("/proc/self/exe", args, env);
        _exit(127);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 5);

    /* posix_spawn (clone with CLONE_VM|CLONE_VFORK) of this program. */
    char *args[] = {argv[0], "child", "9", NULL};
    CHECK(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) == 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 9);

    /* execve of a missing file fails in the caller. */
    char *none[] = {"nothing", NULL};
    CHECK(execve("/nonexistent/program", none, environ) == -1 && errno == ENOENT);

    /* Two generations: a child that forks a grandchild. */
    pid = fork();
    if (pid == 0) {
        pid_t inner = fork();
        if (inner == 0) _exit(11);
        int st;
        waitpid(inner, &st, 0);
        _exit(WEXITSTATUS(st) + 1);
    }
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 12);

    printf("fork: %d failures\n", failures);
    return failures;
}
