/* A plugin for mvvm.Machine's sandbox: functions the host (plugin.py) does not trust.
   Built with: riscv64-linux-gnu-gcc -O2 -static -o examples/plugin examples/plugin.c */
#include <stdio.h>
#include <string.h>

static char buffer[256];

/* Well behaved: upper-cases a string into the plugin's buffer. */
const char *shout(const char *text)
{
    size_t n = strlen(text);
    if (n >= sizeof buffer)
        n = sizeof buffer - 1;
    for (size_t i = 0; i < n; i++)
        buffer[i] = text[i] >= 'a' && text[i] <= 'z' ? text[i] - 32 : text[i];
    buffer[n] = 0;
    return buffer;
}

/* Never returns. */
long hang(void)
{
    volatile unsigned long spins = 0;
    for (;;)
        spins++;
}

/* Writes through a pointer it was never given. */
long scribble(void)
{
    *(volatile long *)0x10 = 42;
    return 0;
}

/* Reads a host file, if it can (it cannot: the sandbox has no files). */
long snoop(void)
{
    FILE *f = fopen("/etc/passwd", "r");
    return f != NULL;
}

/* Corrupts its own state: the host restores a snapshot afterwards. */
long vandalise(void)
{
    memset(buffer, '#', sizeof buffer - 1);
    return 0;
}

int main(void) { return 0; }
