/* Game scripting with mvvm.Machine: the host (game.py) calls update() every frame; the
   script moves its entities and draws them through host callbacks.
   Built with: riscv64-linux-gnu-gcc -O2 -static -I mvvm/embed -o examples/game examples/game.c */
#include <stdio.h>

#include "mvvm.h"

#define ENTITIES 8

struct entity { long x, y, dx, dy; };
static struct entity entities[ENTITIES];
long score;

static void draw(long id, long x, long y) { mvvm_host3(mvvm_id("draw"), id, x, y); }
static long width(void) { return mvvm_host0(mvvm_id("width")); }

/* Called once per frame: move, bounce off the walls, draw; returns the bounces so far. */
long update(long frame)
{
    long w = width();
    for (int i = 0; i < ENTITIES; i++) {
        struct entity *e = &entities[i];
        e->x += e->dx;
        e->y += e->dy;
        if (e->x < 0 || e->x >= w) { e->dx = -e->dx; e->x += 2 * e->dx; score++; }
        if (e->y < 0 || e->y >= w) { e->dy = -e->dy; e->y += 2 * e->dy; score++; }
        if (frame % 30 == 0)
            draw(i, e->x, e->y);
    }
    return score;
}

/* The host hands the script a message to react to (a str, copied in as a pointer). */
long on_event(const char *name, long value)
{
    printf("script: event %s = %ld\n", name, value);
    fflush(stdout);
    score += value;
    return score;
}

int main(void)
{
    for (int i = 0; i < ENTITIES; i++)
        entities[i] = (struct entity){10 * i, 5 * i, 1 + i % 3, 2 - i % 2};
    printf("script: %d entities ready\n", ENTITIES);
    fflush(stdout);
    mvvm_pause();           /* ready: the host calls update() from here on */
    return 0;
}
