/* The floating point that libc start-up and printf need, kept light (the full F and D
 * extensions are tested elsewhere): printf %f %g %e of a few doubles, simple double and
 * float arithmetic, conversions to and from integers, comparisons, strtod.  Exits with the
 * number of failed checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(const char *what, int ok)
{
    if (!ok) {
        failures++;
        printf("FAIL %s\n", what);
    }
}

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

int main(void)
{
    volatile double vals[] = {0.0, -0.0, 1.0, -2.5, 3.141592653589793, 1e-300, 6.02214076e23,
                              123456.789, 0.1, 1.0 / 3.0};
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++)
        printf("%f | %g | %e | %.3f | %10.2e | %-12g| %a\n", vals[i], vals[i], vals[i],
               vals[i], vals[i], vals[i], vals[i]);
    printf("%.17g %.0f %.20f %G %E\n", 0.1, 2.5, 1.0 / 7.0, 1e-10, 12345.678);

    volatile double a = 1.5, b = -0.25, c = 10.0;
    double sum = a + b, diff = a - b, prod = a * b, quot = c / a;
    printf("a+b %g a-b %g a*b %g c/a %.15f\n", sum, diff, prod, quot);
    check("a+b", sum == 1.25);
    check("a-b", diff == 1.75);
    check("a*b", prod == -0.375);
    check("c/a bits", bits(quot) == 0x401aaaaaaaaaaaabull);
    check("0.1+0.2 != 0.3", 0.1 + (volatile double)0.2 != 0.3);
    printf("0.1+0.2 = %.17g, bits %llx\n", 0.1 + (volatile double)0.2,
           (unsigned long long)bits(0.1 + (volatile double)0.2));

    volatile float fa = 1.1f, fb = 3.0f;
    float fq = fa / fb;
    printf("float %.9g %.9g %.9g\n", (double)(fa * fb), (double)fq, (double)(fa - fb));

    volatile double big = 3e9, neg = -7.9;
    printf("conversions: (long)3e9 %ld (int)-7.9 %d (unsigned)3e9 %u (double)INT64_MAX %.1f\n",
           (long)big, (int)neg, (unsigned)big, (double)(volatile long)INT64_MAX);
    volatile long li = -123456789012345;
    volatile unsigned long lu = 18446744073709551615ul;
    printf("from ints: %.1f %.1f %f\n", (double)li, (double)lu, (double)(volatile int)-3);

    volatile double x = 2.0, y = 2.0, z = -1.0;
    check("x == y", x == y);
    check("x <= y", x <= y);
    check("z < x", z < x);
    check("!(x < z)", !(x < z));
    check("-0.0 == 0.0", -0.0 == (volatile double)0.0);

    /* Newton's square root of 2 with only + - * / */
    double r = 1.0;
    for (int i = 0; i < 6; i++)
        r = (r + 2.0 / r) / 2.0;
    printf("sqrt(2) by Newton %.15f\n", r);
    check("Newton", r > 1.41421356237 && r < 1.41421356238);

    /* a small series */
    double pi4 = 0;
    for (int k = 0; k < 1000; k++)
        pi4 += (k % 2 ? -1.0 : 1.0) / (2 * k + 1);
    printf("Leibniz pi %.10f\n", 4 * pi4);

    char *end;
    double parsed = strtod("  -1.25e-3xyz", &end);
    printf("strtod %g rest [%s] atof %g\n", parsed, end, atof("6.5"));
    check("strtod", parsed == -1.25e-3);
    printf("float: %d failures\n", failures);
    return failures;
}
