/* stdio: printf conversions over integer widths and flags, puts/putchar, fputs and fprintf to
 * stderr, snprintf (with truncation), a temporary file made with mkstemp, written and read
 * back with fopen/fgets/fread/fseek, and stdin read to its end.  Only contents are printed
 * (never the temporary name).  Exits with the number of failed checks.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wformat-truncation"

static int failures;

static void check_str(const char *what, const char *got, const char *want)
{
    if (strcmp(got, want) != 0) {
        failures++;
        printf("FAIL %s: got [%s] want [%s]\n", what, got, want);
    }
}

static void check(const char *what, long long got, long long want)
{
    if (got != want) {
        failures++;
        printf("FAIL %s: got %lld want %lld\n", what, got, want);
    }
}

static void integers(void)
{
    printf("d: [%d] [%d] [%d] [%d]\n", 0, -1, INT_MAX, INT_MIN);
    printf("u: [%u] [%u] [%u]\n", 0u, UINT_MAX, 3000000000u);
    printf("x: [%x] [%X] [%#x] [%#X] [%08x] [%-8x] [%.6x]\n", 0xdeadbeefu, 0xabcu, 255u, 255u,
           0x1fu, 0x1fu, 0xabu);
    printf("lx: [%lx] [%lx] [%#lx]\n", 0x0123456789abcdeful, ULONG_MAX, 1ul << 63);
    printf("lld: [%lld] [%lld] [%llu] [%lli]\n", LLONG_MAX, LLONG_MIN, ULLONG_MAX, -42ll);
    printf("o: [%o] [%#o] [%lo] [%#o]\n", 8u, 8u, 0777777777777ul, 0u);
    printf("c: [%c] [%c] [%3c] [%-3c]\n", 'A', '~', 'z', 'q');
    printf("s: [%s] [%5.3s] [%-8s] [%.0s] [%10s] [%.2s]\n", "hello", "abcdef", "left", "gone",
           "right", "truncate");
    printf("flags: [%-8d] [%+d] [%+d] [% d] [% d] [%08d] [%-+8d] [%+08d]\n", 42, 42, -42, 42,
           -42, -42, 7, 7);
    printf("prec: [%.5d] [%8.3d] [%-8.3d] [%.0d] [%.0x] [%#.3o]\n", 42, -7, 7, 0, 0u, 8u);
    printf("star: [%*d] [%-*d] [%.*d] [%*.*s]\n", 6, 12, 6, 12, 4, 3, 7, 2, "xyz");
    printf("short/char: [%hd] [%hu] [%hhd] [%hhu] [%hx]\n", (short)-2, (unsigned short)65535,
           (signed char)-128, (unsigned char)255, (unsigned short)0xbeef);
    printf("sizes: [%zu] [%zd] [%jd] [%ju] [%td]\n", (size_t)-1, (ssize_t)-5, INTMAX_MIN,
           UINTMAX_MAX, (ptrdiff_t)-3);
    printf("inttypes: [%" PRId64 "] [%" PRIu32 "] [%" PRIx16 "] [%" PRIi8 "]\n",
           INT64_MIN, UINT32_MAX, (uint16_t)0xffff, (int8_t)-1);
    printf("percent: [%%] [%d%%]\n", 50);
    int n = printf("count this: %d %s\n", 12345, "abc");
    check("printf return", n, 22);
    int pos = 0;
    printf("abc%ndef\n", &pos);
    check("%n", pos, 3);
}

static void strings(void)
{
    puts("puts line");
    puts("");
    putchar('p');
    putchar('\n');
    fputs("fputs to stdout\n", stdout);
    fputs("fputs to stderr\n", stderr);
    fprintf(stderr, "fprintf to stderr: %d %s\n", -5, "end");
    fputc('!', stderr);
    fputc('\n', stderr);
    fwrite("fwrite 12345\n", 1, 13, stdout);
    fflush(stdout);
    write(1, "write(2) after fflush\n", 22);

    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d-%s-%x", 123, "abc", 0xffu);
    check("snprintf return", n, 10);
    check_str("snprintf", buf, "123-abc-ff");
    n = snprintf(buf, 8, "%s", "0123456789abcdef");
    check("snprintf truncated return", n, 16);
    check_str("snprintf truncated", buf, "0123456");
    n = snprintf(NULL, 0, "%lld", LLONG_MIN);
    check("snprintf(NULL, 0) return", n, 20);
    n = snprintf(buf, 1, "abc");
    check("snprintf size 1", n, 3);
    check("snprintf size 1 writes only nul", buf[0], 0);
    char big[300];
    snprintf(big, sizeof big, "%0200d|%-50s|", 7, "pad");
    printf("long snprintf: %zu chars, ends [%s]\n", strlen(big), big + 195);
    char *dyn = NULL;
    n = asprintf(&dyn, "%s %d", "asprintf", 99);
    check("asprintf return", n, 11);
    printf("%s\n", dyn);
    free(dyn);
    long v = strtol("  -0x1fz", NULL, 16);
    unsigned long long uv = strtoull("18446744073709551615", NULL, 10);
    errno = 0;
    long ov = strtol("99999999999999999999", NULL, 10);
    printf("strtol %ld strtoull %llu overflow %ld erange %d atoi %d\n", v, uv, ov,
           errno == ERANGE, atoi("-77abc"));
    int a = 0, b = 0;
    char word[16];
    n = sscanf("17 0x20 word rest", "%d %i %15s", &a, &b, word);
    printf("sscanf %d: %d %d [%s]\n", n, a, b, word);
}

static void temp_file(void)
{
    char name[] = "/tmp/mvvm-stdio-XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0) {
        printf("mkstemp failed\n");
        failures++;
        return;
    }
    check("mkstemp name length", (long long)strlen(name), 22);
    FILE *f = fdopen(fd, "w+");
    for (int i = 0; i < 200; i++)
        fprintf(f, "line %03d: %s\n", i, i % 3 ? "fizz" : "buzz buzz");
    fputs("no newline at end", f);
    long size = ftell(f);
    printf("file size %ld\n", size);
    check("fclose after write", fclose(f), 0);

    f = fopen(name, "r");
    char line[64];
    int lines = 0;
    unsigned long sum = 0;
    char last[64] = "";
    while (fgets(line, sizeof line, f)) {
        lines++;
        for (char *p = line; *p; p++)
            sum = sum * 31 + (unsigned char)*p;
        strcpy(last, line);
        if (lines == 1 || lines == 100)
            printf("fgets line %d: %s", lines, line);
    }
    printf("fgets: %d lines, hash %lx, last [%s], eof %d\n", lines, sum, last, feof(f) != 0);

    check("fseek", fseek(f, 10, SEEK_SET), 0);
    char chunk[40];
    size_t got = fread(chunk, 1, sizeof chunk - 1, f);
    chunk[got] = 0;
    printf("fread at 10: %zu bytes [%s]\n", got, chunk);
    fseek(f, -5, SEEK_END);
    got = fread(chunk, 1, sizeof chunk - 1, f);
    chunk[got] = 0;
    printf("fread at end-5: %zu bytes [%s] eof %d\n", got, chunk, feof(f) != 0);
    rewind(f);
    int c = fgetc(f);
    ungetc('X', f);
    int c2 = fgetc(f);
    printf("fgetc %c, after ungetc %c, ftell %ld\n", c, c2, ftell(f));
    fclose(f);

    f = fopen(name, "a");
    fputs("\nappended\n", f);
    fclose(f);
    f = fopen(name, "rb");
    fseek(f, 0, SEEK_END);
    printf("size after append %ld\n", ftell(f));
    fclose(f);

    check("unlink", unlink(name), 0);
    f = fopen(name, "r");
    printf("fopen after unlink: %s, errno ENOENT %d\n", f ? "opened" : "NULL", errno == ENOENT);
    if (f)
        fclose(f);
}

static void standard_input(void)
{
    unsigned char buf[1000];
    size_t total = 0, n;
    unsigned long hash = 5381;
    long lines = 0;
    int first_line_len = -1;
    char first[80] = "";
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (first_line_len < 0 && total + i < sizeof first - 1) {
                if (buf[i] == '\n')
                    first_line_len = (int)(total + i);
                else
                    first[total + i] = (char)buf[i];
            }
            hash = hash * 33 + buf[i];
            lines += buf[i] == '\n';
        }
        total += n;
    }
    printf("stdin: %zu bytes, %ld newlines, hash %lx, first line [%s], eof %d, error %d\n",
           total, lines, hash, first, feof(stdin) != 0, ferror(stdin) != 0);
    check("getchar at eof", getchar(), EOF);
}

int main(void)
{
    integers();
    strings();
    temp_file();
    standard_input();
    printf("stdio: %d failures\n", failures);
    fprintf(stderr, "stdio done\n");
    return failures;
}
