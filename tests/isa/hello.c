/* A small static glibc program: its disassembly (~90k instructions of libc) is compared
   with objdump by tests/test_isa_objdump.py.  Never run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    double x = argc > 1 ? atof(argv[1]) : 2.5;
    printf("%d %g %zu %s\n", argc, x * 3, strlen(argv[0]), argv[0]);
    return 0;
}
