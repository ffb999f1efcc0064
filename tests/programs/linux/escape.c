/* Run confined (mvvm run --root DIR): every way out of the root must fail. argv[1] is the
   host path of a file outside the root, argv[2] a host directory outside it, argv[3] the
   pid of a host process that leads a process group of its own. Prints one line per
   attempt and exits with the number of escapes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

static int escapes;

static void attempt(const char *what, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        char buf[64] = {0};
        read(fd, buf, sizeof buf - 1);
        if (strstr(buf, "SECRET")) { printf("ESCAPED via %s: %s\n", what, path); escapes++; }
        else printf("%s: inside\n", what);
        close(fd);
    } else {
        printf("%s: %s\n", what, strerror(errno));
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 4) return 99;
    const char *secret = argv[1], *outside = argv[2];
    char path[4096];

    attempt("absolute", secret);
    snprintf(path, sizeof path, "/../../../../..%s", secret);
    attempt("dotdot absolute", path);
    snprintf(path, sizeof path, "../../../../../../../../..%s", secret);
    attempt("dotdot relative", path);

    mkdir("/work", 0755);
    chdir("/work");
    symlink("/", "root-link");
    snprintf(path, sizeof path, "root-link/..%s", secret);
    attempt("symlink to /", path);
    symlink("../../../../../../../..", "up-link");
    snprintf(path, sizeof path, "up-link%s", secret);
    attempt("symlink up", path);
    symlink(secret, "abs-link");
    attempt("absolute symlink", "abs-link");
    symlink("loop-b", "loop-a");
    symlink("loop-a", "loop-b");
    attempt("symlink loop", "loop-a");

    for (int i = 0; i < 20; i++) chdir("..");
    char cwd[4096];
    printf("cwd after chdir(..) x20: %s\n", getcwd(cwd, sizeof cwd));
    int dfd = open("/", O_RDONLY | O_DIRECTORY);
    int fd = openat(dfd, "../../..", O_RDONLY | O_DIRECTORY);
    struct stat a, b;
    fstat(dfd, &a);
    fstat(fd, &b);
    printf("openat(/, ../../..) is /: %s\n", a.st_ino == b.st_ino ? "yes" : "no");
    if (a.st_ino != b.st_ino) escapes++;
    if (fchdir(fd) == 0) printf("fchdir then getcwd: %s\n", getcwd(cwd, sizeof cwd));

    printf("link to secret: %s\n", link(secret, "/stolen") == 0 ? "made" : strerror(errno));
    attempt("hard link", "/stolen");
    snprintf(path, sizeof path, "%s/planted", outside);
    int out = open(path, O_WRONLY | O_CREAT, 0644);
    printf("create outside: %s\n", out >= 0 ? "created (inside the root)" : strerror(errno));
    if (out >= 0) close(out);
    printf("rename out: %s\n", rename("/work", "/../../moved") == 0 ? "renamed" : strerror(errno));
    char target[256] = {0};
    ssize_t n = readlink("/proc/self/exe", target, sizeof target - 1);
    printf("/proc/self/exe: %s\n", n > 0 ? target : strerror(errno));
    char *args[] = {"secret", NULL};
    execve(secret, args, NULL);
    printf("execve outside: %s\n", strerror(errno));

    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "/../../sock");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("unix bind: %s\n", bind(s, (struct sockaddr *)&sun, sizeof sun) == 0 ? "bound" : strerror(errno));
    int inet = socket(AF_INET, SOCK_STREAM, 0);
    printf("inet socket: %s\n", inet >= 0 ? "allowed" : strerror(errno));

    /* the host process and its group are out of reach */
    pid_t host = atoi(argv[3]);
    printf("kill host process: %s\n", kill(host, 0) == 0 ? "sent" : strerror(errno));
    int pipe_ends[2];
    pipe(pipe_ends);
    printf("F_SETOWN host process: %s\n",
           fcntl(pipe_ends[0], F_SETOWN, host) == 0 ? "set" : strerror(errno));
    printf("F_SETOWN host group: %s\n",
           fcntl(pipe_ends[0], F_SETOWN, -host) == 0 ? "set" : strerror(errno));
    printf("F_SETOWN itself: %s\n",
           fcntl(pipe_ends[0], F_SETOWN, getpid()) == 0 ? "set" : strerror(errno));
    printf("setpgid into the host group: %s\n",
           setpgid(0, host) == 0 ? "joined" : strerror(errno));
    printf("getpgid of the host process: %s\n", getpgid(host) >= 0 ? "told" : strerror(errno));
    printf("wait4 for any child: %s\n", wait4(-1, NULL, WNOHANG, NULL) >= 0 ? "waited"
                                                                            : strerror(errno));

    /* an orphan's new parent is no guest: a grandchild whose parent has ended */
    int report[2];
    pipe(report);
    pid_t child = fork();
    if (child == 0) {
        pid_t parent = getpid();
        if (fork() == 0) {
            while (getppid() == parent)
                usleep(1000);
            char line[128];
            int n = snprintf(line, sizeof line, "kill the orphan's new parent: %s\n",
                             kill(getppid(), 0) == 0 ? "sent" : strerror(errno));
            write(report[1], line, n);
            _exit(0);
        }
        _exit(0);
    }
    close(report[1]);
    waitpid(child, NULL, 0);
    char line[128] = {0};
    read(report[0], line, sizeof line - 1);
    printf("%s", line);

    /* /proc/self/exe is the program by its path in the root: a symlink put in its place
       resolves inside the root too */
    unlink(argv[0]);
    symlink(secret, argv[0]);
    attempt("/proc/self/exe as a symlink", "/proc/self/exe");
    int w = open("/proc/self/exe", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    printf("write /proc/self/exe: %s\n", w >= 0 ? "opened" : strerror(errno));
    printf("chmod /proc/self/exe: %s\n", chmod("/proc/self/exe", 0666) == 0 ? "done" : strerror(errno));
    printf("escapes: %d\n", escapes);
    return escapes;
}
