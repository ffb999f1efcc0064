/* Rounding modes that make an FP instruction illegal: the dynamic mode while frm holds 5, 6
 * or 7, and the reserved static modes 5 and 6.  "fp_illegal CASE FRM" sets frm, runs one
 * instruction and prints its result; an illegal one ends the process with SIGILL instead.
 * Instructions without a rounding mode (fsgnj, fmin, feq, fclass, fmv) never care.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define RUN(TEXT)                                                                           \
    __asm__ volatile("fmv.d.x ft0, %1\n\tfmv.d.x ft1, %1\n\t" TEXT "\n\tfmv.x.d %0, ft2"    \
                     : "=r"(r)                                                              \
                     : "r"(x)                                                               \
                     : "ft0", "ft1", "ft2")

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int which = atoi(argv[1]);
    uint64_t r = 0, x = 0x3ff8000000000000ull;
    __asm__ volatile("fsrm %0" : : "r"(strtoul(argv[2], NULL, 0)));
    printf("case %d: ", which);
    fflush(stdout);
    switch (which) {
    case 0: RUN("fadd.d ft2, ft0, ft1, dyn"); break;
    case 1: RUN("fmadd.s ft2, ft0, ft1, ft1, dyn"); break;
    case 2: RUN("fsqrt.d ft2, ft0, dyn"); break;
    case 3: RUN(".insn r 0x53, 7, 0x69, ft2, %1, x0"); break;        /* fcvt.d.w dyn */
    case 4: RUN(".insn r 0x53, 7, 0x21, ft2, ft0, x0"); break;       /* fcvt.d.s dyn */
    case 5: RUN("fcvt.w.d %1, ft0, dyn\n\tfmv.d.x ft2, %1"); break;
    case 6: RUN("fcvt.s.l ft2, %1, dyn"); break;
    case 7: RUN("fsgnj.d ft2, ft0, ft1"); break;
    case 8: RUN("fmin.s ft2, ft0, ft1"); break;
    case 9: RUN("feq.d %1, ft0, ft1\n\tfmv.d.x ft2, %1"); break;
    case 10: RUN(".insn r 0x53, 5, 0x01, ft2, ft0, ft1"); break;     /* fadd.d, rm 5 */
    case 11: RUN(".insn r 0x53, 6, 0x01, ft2, ft0, ft1"); break;     /* fadd.d, rm 6 */
    case 12: RUN("fadd.d ft2, ft0, ft1, rup"); break;
    }
    printf("%016llx\n", (unsigned long long)r);
    return 0;
}
