/* Waits for the signals a terminal sends: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP,
 * SIGCONT, SIGWINCH. Prints "ready" once it waits. argv[1] "catch": a handler for each
 * prints its name (write, async-signal-safe), and the terminating ones then _exit(100 +
 * signo); "default": the default actions apply. argv[2] "spin": waits in a compute loop;
 * "pause": in the pause syscall. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int SIGNALS[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGCONT, SIGWINCH};

static void say(const char *text) { write(1, text, strlen(text)); }

static void handler(int signo)
{
    static const char *names[32] = {
        [SIGINT] = "INT\n", [SIGTERM] = "TERM\n", [SIGHUP] = "HUP\n", [SIGQUIT] = "QUIT\n",
        [SIGTSTP] = "TSTP\n", [SIGCONT] = "CONT\n", [SIGWINCH] = "WINCH\n"};
    say(names[signo]);
    if (signo == SIGINT || signo == SIGTERM || signo == SIGHUP || signo == SIGQUIT)
        _exit(100 + signo);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    if (strcmp(argv[1], "catch") == 0)
        for (unsigned i = 0; i < sizeof SIGNALS / sizeof SIGNALS[0]; i++)
            signal(SIGNALS[i], handler);
    say("ready\n");
    volatile unsigned long n = 0;
    for (;;) {
        if (strcmp(argv[2], "pause") == 0)
            pause();
        else
            n++;
    }
}
