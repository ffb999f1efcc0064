/* hello: the start-up case, a static glibc hello world.  Its time is all process start,
 * libc initialisation and exit, which for MVVM means translating and compiling the code
 * those run: the fixed cost every other benchmark pays once.  The size is accepted and
 * ignored, so every program takes the same arguments.  Self-check: puts succeeded.
 */
#include "bench.h"

int main(int argc, char **argv)
{
    (void)bench_size(argc, argv, 1, 1);
    bench_check(puts("hello, world") >= 0, "puts succeeded");
    return 0;
}
