/* What tests/test_gdb.py drives through `mvvm run -g`: a function with an argument and a
 * local to break in, read, step over, and a result to continue to; a global that a loop
 * changes, to watch. Built -O0 -g. */
#include <stdio.h>

int counter;

void count(int times)
{
    for (int i = 0; i < times; i++)
        counter += 10;
}

int add_one(int v)
{
    int local = v + 1;
    return local;
}

int main(void)
{
    int r = add_one(41);
    count(3);
    printf("result %d\n", r);
    return r - 42;
}
