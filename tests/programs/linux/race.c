/* A guest that attacks --root with a race: one thread keeps swapping the directory
 * "real" for a symlink to a host directory (argv[1], outside the guest's tree), while the
 * main thread opens "real/secret", creates "real/made-N", stats and chmods "real/secret". MVVM resolves each path in
 * the tree (where the symlink's absolute target is inside it, and absent), then the host
 * opens it: if the swap lands in between, the host must not follow the link out.
 * Prints how many opens or stats saw the host's secret and how many files it created. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;
static const char *outside;

static void *swapper(void *arg)
{
    (void)arg;
    while (!stop) {
        rename("real", "parked");
        symlink(outside, "real");
        unlink("real");
        rename("parked", "real");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    outside = argv[1];
    double seconds = atof(argv[2]);
    mkdir("real", 0755);
    int fd = open("real/secret", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, "guest", 5);
    close(fd);
    pthread_t thread;
    pthread_create(&thread, NULL, swapper, NULL);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long tries = 0, leaked = 0, made = 0;
    do {
        char buf[16] = {0}, name[32];
        fd = open("real/secret", O_RDONLY);
        if (fd >= 0) {
            if (read(fd, buf, sizeof buf - 1) > 0 && strncmp(buf, "HOST", 4) == 0)
                leaked++;
            close(fd);
        }
        struct stat st;
        if (stat("real/secret", &st) == 0 && st.st_size != 5)
            leaked++;
        chmod("real/secret", 0600);
        snprintf(name, sizeof name, "real/made-%ld", tries);
        fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            made++;
            close(fd);
        }
        tries++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
    stop = 1;
    pthread_join(thread, NULL);
    printf("%ld tries, %ld read the host's secret, %ld files made\n", tries, leaked, made);
    return 0;
}
