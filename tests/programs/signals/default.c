/* Default actions: the case named by argv[1] ends the program the way Linux would, by a
 * signal's default action (the shell sees 128 + the signal) or normally (status 0) when
 * the signal is ignored or caught.  Each case prints a line first, which must survive. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void on_signal(int sig)
{
    printf("handler %d\n", sig);
}

static void on_segv_faulting_again(int sig)
{
    printf("in the SIGSEGV handler\n");
    *(volatile int *)16 = 1;                        /* SIGSEGV is blocked here: fatal */
}

static void catch(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigaction(sig, &sa, 0);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    const char *c = argc > 1 ? argv[1] : "";
    sigset_t set;
    sigemptyset(&set);
    printf("case %s\n", c);
    if (!strcmp(c, "term")) {
        raise(SIGTERM);
    } else if (!strcmp(c, "kill-usr1")) {
        kill(getpid(), SIGUSR1);
    } else if (!strcmp(c, "realtime")) {
        raise(SIGRTMIN + 1);
    } else if (!strcmp(c, "ignored")) {
        signal(SIGTERM, SIG_IGN);
        raise(SIGTERM);
        signal(SIGUSR1, SIG_IGN);
        kill(getpid(), SIGUSR1);
        printf("still running\n");
        return 0;
    } else if (!strcmp(c, "alarm")) {
        struct itimerval in_10ms = {{0, 0}, {0, 10000}};
        setitimer(ITIMER_REAL, &in_10ms, 0);
        for (volatile unsigned long i = 0;; i++)
            ;
    } else if (!strcmp(c, "unblock")) {
        sigaddset(&set, SIGTERM);
        sigprocmask(SIG_BLOCK, &set, 0);
        raise(SIGTERM);
        printf("blocked, pending\n");
        sigprocmask(SIG_UNBLOCK, &set, 0);
    } else if (!strcmp(c, "resethand")) {
        catch(SIGUSR1, on_signal, SA_RESETHAND);
        raise(SIGUSR1);
        raise(SIGUSR1);
    } else if (!strcmp(c, "blocked-fault")) {
        catch(SIGSEGV, on_signal, 0);
        sigaddset(&set, SIGSEGV);
        sigprocmask(SIG_BLOCK, &set, 0);
        *(volatile int *)0 = 1;
    } else if (!strcmp(c, "fault-in-handler")) {
        catch(SIGSEGV, on_segv_faulting_again, 0);
        *(volatile int *)0 = 1;
    } else if (!strcmp(c, "abort-caught")) {
        catch(SIGABRT, on_signal, 0);
        abort();
    } else if (!strcmp(c, "pipe-caught")) {
        int fds[2];
        pipe(fds);
        close(fds[0]);
        catch(SIGPIPE, on_signal, 0);
        long n = write(fds[1], "x", 1);
        printf("write returned %ld\n", n);
        return 0;
    }
    printf("not reached\n");
    return 1;
}
