/* What tests/test_gdb.py drives through `mvvm run -g`: a function with an argument and a
 * local to break in, read, step over, and a result to continue to. Built -O0 -g. */
#include <stdio.h>

int add_one(int v)
{
    int local = v + 1;
    return local;
}

int main(void)
{
    int r = add_one(41);
    printf("result %d\n", r);
    return r - 42;
}
