/* Never stops, and never loops inside one function: two functions tail-call each other
   through function pointers (`jr`), so only the dispatcher ever sees it running. */
#include <stdio.h>

typedef long (*step)(long);
long ping(long n);
long pong(long n);
volatile step to_ping = ping, to_pong = pong;

long pong(long n) { return to_ping(n + 1); }
long ping(long n) { return to_pong(n + 1); }

int main(void) {
    puts("bouncing");
    fflush(stdout);
    return (int)ping(0);
}
