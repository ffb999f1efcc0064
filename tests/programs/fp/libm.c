/* libm and formatting, in double and float: elementary functions over a sweep of arguments,
 * printf("%.17g") and %a, strtod/strtof round trips, <fenv.h> rounding modes and exception
 * flags as a C program sees them.  Printed with full precision and compared exactly with
 * qemu-riscv64: the libm is the guest's own glibc, so every bit follows from the F and D
 * instructions (fused multiply-adds included, since gcc contracts a*b+c by default).
 *
 * "fp_libm bench N" runs a timing loop instead (the sums are printed, to be compared too).
 */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile double sink;

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

typedef double (*fn1)(double);
typedef float (*fn1f)(float);

static void sweep(void)
{
    static const struct { const char *name; fn1 f; fn1f g; } fns[] = {
        {"sin", sin, sinf}, {"cos", cos, cosf}, {"tan", tan, tanf}, {"exp", exp, expf},
        {"log", log, logf}, {"log2", log2, log2f}, {"log10", log10, log10f},
        {"expm1", expm1, expm1f}, {"log1p", log1p, log1pf}, {"atan", atan, atanf},
        {"asin", asin, asinf}, {"acos", acos, acosf}, {"sinh", sinh, sinhf},
        {"cosh", cosh, coshf}, {"tanh", tanh, tanhf}, {"cbrt", cbrt, cbrtf},
        {"sqrt", sqrt, sqrtf}, {"erf", erf, erff}, {"lgamma", lgamma, lgammaf},
        {"tgamma", tgamma, tgammaf}, {"floor", floor, floorf}, {"ceil", ceil, ceilf},
        {"round", round, roundf}, {"trunc", trunc, truncf}, {"rint", rint, rintf},
        {"exp2", exp2, exp2f}, {"atanh", atanh, atanhf},
    };
    static const double args[] = {
        0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 3.141592653589793, 1e-300, 1e-310,
        7.0, 100.0, -100.0, 709.5, 1e10, 1e22, 1e300, 0.1, 0.7, 0.999999, 1.0000001,
        INFINITY, -INFINITY, NAN, 4.9406564584124654e-324, 123456.789, -0.25,
    };
    for (unsigned f = 0; f < sizeof fns / sizeof fns[0]; f++)
        for (unsigned i = 0; i < sizeof args / sizeof args[0]; i++) {
            double x = args[i], y = fns[f].f(x);
            float xf = (float)x, yf = fns[f].g(xf);
            printf("%s(%.17g) = %.17g %016llx | f %.9g %08x\n", fns[f].name, x, y,
                   (unsigned long long)dbits(y), (double)yf, fbits(yf));
        }
    for (int i = -40; i <= 40; i++) {
        double x = i * 0.37 + 0.011;
        printf("%d: pow %.17g atan2 %.17g hypot %.17g fmod %.17g remainder %.17g fma %a "
               "powf %.9g fmaf %a\n", i, pow(fabs(x), x * 0.5), atan2(x, 1.7 - x),
               hypot(x, 3.1), fmod(x * 10, 2.3), remainder(x * 10, 2.3),
               fma(x, x * 1.1, -x * x * 1.1), (double)powf((float)fabs(x), (float)x),
               (double)fmaf((float)x, 0.3f, -(float)x * 0.3f));
    }
}

static void formatting(void)
{
    static const double values[] = {
        0.1, 1.0 / 3, 2.0 / 3, 1e23, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
        123456789012345678.0, 0.3, 9007199254740993.0, 1e-5, 6.02214076e23, -0.0, 100.0,
    };
    for (unsigned i = 0; i < sizeof values / sizeof values[0]; i++) {
        double v = values[i];
        char text[64];
        snprintf(text, sizeof text, "%.17g", v);
        double back = strtod(text, NULL);
        float vf = (float)v;
        snprintf(text, sizeof text, "%.9g", (double)vf);
        float backf = strtof(text, NULL);
        printf("%.17g %a %e %.3f %g | round trip %s | float %.9g %a %s\n", v, v, v, v, v,
               dbits(back) == dbits(v) ? "ok" : "BAD", (double)vf, (double)vf,
               fbits(backf) == fbits(vf) ? "ok" : "BAD");
    }
    static const char *const texts[] = {
        "0.1", "1e400", "-1e-400", "2.4703282292062327e-324", "2.4703282292062328e-324",
        "0x1.fffffffffffffp1023", "3.4028235e38", "3.4028236e38", "1.17549435e-38",
        "inf", "-nan", "123456789e-5", "0.5000000000000000555111512312578270211815834045",
    };
    for (unsigned i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        double d = strtod(texts[i], NULL);
        float f = strtof(texts[i], NULL);
        printf("strtod(%s) = %a, strtof = %a\n", texts[i], d, (double)f);
    }
}

static const int MODES[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
static const char *const MODE_NAMES[] = {"nearest", "towardzero", "downward", "upward"};

static void rounding_modes(void)
{
    volatile double third = 1.0, three = 3.0, big = 2.5, neg = -2.5, tiny = 1e-300;
    for (int m = 0; m < 4; m++) {
        fesetround(MODES[m]);
        double q = third / three, s = sqrt(2.0 * three), p = tiny * tiny;
        float qf = (float)third / (float)three;
        printf("%s: get %d 1/3 %a sqrt6 %a tiny^2 %a 1/3f %a rint %.1f %.1f lrint %ld %ld "
               "nearbyint %.1f (float)(1/3) %a strtod(0.1) %a printf %.3f %.20f\n",
               MODE_NAMES[m], fegetround() == MODES[m], q, s, p, (double)qf, rint(big),
               rint(neg), lrint(big), lrint(neg), nearbyint(-0.5), (double)(float)q,
               strtod("0.1", NULL), 2.0005, 0.1);
        printf("  exp(1) %a log(3) %a sin(1e22) %a pow(3, 0.5) %a expf(1) %a\n", exp(1.0),
               log(three), sin(1e22), pow(three, 0.5), (double)expf(1.0f));
    }
    fesetround(FE_TONEAREST);
}

static void exception_flags(void)
{
    volatile double zero = 0.0, one = 1.0, three = 3.0, huge = DBL_MAX, small = DBL_MIN;
    volatile float fzero = 0.0f, fhuge = FLT_MAX;
    struct { const char *what; int kind; } cases[] = {
        {"1/0", 0}, {"0/0", 1}, {"max*2", 2}, {"min/3", 3}, {"1/3", 4}, {"1+1", 5},
        {"sqrt(-1)", 6}, {"(int)1e10", 7}, {"inf-inf", 8}, {"float max*2", 9},
        {"float 0/0", 10}, {"(float)1e300", 11}, {"nan < 1", 12}, {"nan == 1", 13},
        {"log(0)", 14}, {"exp(1000)", 15}, {"(long)nan", 16}, {"fma(inf, 0, 1)", 17},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        feclearexcept(FE_ALL_EXCEPT);
        double r = 0;
        switch (cases[i].kind) {
        case 0: r = one / zero; break;
        case 1: r = zero / zero; break;
        case 2: r = huge * 2; break;
        case 3: r = small / three; break;
        case 4: r = one / three; break;
        case 5: r = one + one; break;
        case 6: r = sqrt(-one); break;
        case 7: r = (int)(huge / huge * 1e10); break;
        case 8: r = (huge * huge) - (huge * huge); break;
        case 9: r = fhuge * 2.0f; break;
        case 10: r = fzero / fzero; break;
        case 11: r = (float)(huge / 1e8); break;
        case 12: r = (zero / zero) < one; break;
        case 13: r = (zero / zero) == one; break;
        case 14: r = log(zero); break;
        case 15: r = exp(1000 * one); break;
        case 16: r = (long)(zero / zero); break;
        case 17: r = fma(1 / zero, zero, one); break;
        }
        sink = r;
        int raised = fetestexcept(FE_ALL_EXCEPT);
        printf("%-16s -> %a flags:%s%s%s%s%s\n", cases[i].what, r,
               raised & FE_INVALID ? " invalid" : "", raised & FE_DIVBYZERO ? " divbyzero" : "",
               raised & FE_OVERFLOW ? " overflow" : "", raised & FE_UNDERFLOW ? " underflow" : "",
               raised & FE_INEXACT ? " inexact" : "");
    }
    fenv_t env;
    feholdexcept(&env);
    sink = one / zero;
    printf("held: %d\n", fetestexcept(FE_ALL_EXCEPT));
    fesetenv(&env);
    printf("restored: %d\n", fetestexcept(FE_ALL_EXCEPT));
}

/* A loop of libm calls, for timing; prints the sums so the run is checked too. */
static void bench(int n)
{
    double s = 0, t = 0;
    float sf = 0;
    for (int i = 1; i <= n; i++) {
        double x = (i % 3000 + 1) * 1e-3;
        s += sin(x) * exp(-x) + log(x) + pow(x, 0.3);
        t = fma(t, 0.999, sqrt(x));
        sf += sinf((float)x) * expf((float)-x);
    }
    printf("bench %d: %.17g %.17g %.9g\n", n, s, t, (double)sf);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "bench") == 0) {
        bench(atoi(argv[2]));
        return 0;
    }
    sweep();
    formatting();
    rounding_modes();
    exception_flags();
    bench(2000);
    return 0;
}
