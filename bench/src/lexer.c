/* lexer: a state machine with many branches, a character at a time: a C-like tokenizer
 * (identifiers, integers, floats with exponents, strings with escapes, block and line
 * comments, one- and two-character operators, punctuation) over `size` generated tokens,
 * lexed PASSES times so that the lexer, not the generator, takes most of the time.
 * Self-check: the generator records how many tokens of each kind it wrote and their total
 * length, and every pass of the lexer must find exactly those.
 */
#include <string.h>

#include "bench.h"

#define PASSES 10

enum kind { IDENT, INT, FLOAT, STRING, COMMENT, OPERATOR, PUNCT, KINDS };

static const char *const KIND_NAMES[KINDS] = {"ident", "int", "float", "string",
                                              "comment", "op", "punct"};

typedef struct {
    long count[KINDS];
    long length[KINDS];
} tally;

/* ---- the generator ---- */

typedef struct {
    char *text;
    size_t len;
    uint64_t seed;
} writer;

static unsigned pick(writer *w, unsigned n) { return (unsigned)(bench_rand(&w->seed) % n); }
static void put(writer *w, char c) { w->text[w->len++] = c; }

static void put_from(writer *w, const char *set, unsigned times)
{
    size_t n = strlen(set);
    for (unsigned i = 0; i < times; i++)
        put(w, set[pick(w, (unsigned)n)]);
}

static void put_digits(writer *w, unsigned most) { put_from(w, "0123456789", 1 + pick(w, most)); }

static void write_number(writer *w, int with_fraction)
{
    put(w, "123456789"[pick(w, 9)]);
    put_digits(w, 7);
    if (!with_fraction)
        return;
    put(w, '.');
    put_digits(w, 5);
    if (pick(w, 2)) {
        put(w, "eE"[pick(w, 2)]);
        if (pick(w, 2))
            put(w, "+-"[pick(w, 2)]);
        put_digits(w, 2);
    }
}

static void write_string(writer *w)
{
    put(w, '"');
    for (unsigned i = pick(w, 20); i > 0; i--) {
        if (pick(w, 8) == 0) {
            put(w, '\\');
            put(w, "nt\"\\"[pick(w, 4)]);
        } else {
            put_from(w, "abcdefghijklmnopqrstuvwxyz ,.!?*/", 1);
        }
    }
    put(w, '"');
}

static void write_comment(writer *w)
{
    int block = pick(w, 2);
    put(w, '/');
    put(w, block ? '*' : '/');
    for (unsigned i = pick(w, 30); i > 0; i--) {
        put_from(w, "abcdefghijklmnopqrstuvwxyz  \"", 1);
        if (block && pick(w, 6) == 0)
            put(w, '*'), put_from(w, "abc*", 1); /* a star that does not close it... */
        if (w->text[w->len - 1] == '*')
            put(w, 'x'); /* ...and never a star right before the closing slash */
    }
    if (block)
        put(w, '*'), put(w, '/');
    else
        put(w, '\n');
}

static enum kind write_token(writer *w)
{
    static const char *const ops[] = {"+", "-", "*", "/", "=", "==", "!=", "<", "<=",
                                      ">", ">=", "&&", "||", "!", "<<", ">>", "&", "|"};
    enum kind k = (enum kind)pick(w, KINDS);
    switch (k) {
    case IDENT:
        put_from(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", 1);
        put_from(w, "abcdefghijklmnopqrstuvwxyz_0123456789", pick(w, 12));
        break;
    case INT: write_number(w, 0); break;
    case FLOAT: write_number(w, 1); break;
    case STRING: write_string(w); break;
    case COMMENT: write_comment(w); break;
    case OPERATOR: {
        const char *op = ops[pick(w, sizeof ops / sizeof *ops)];
        while (*op)
            put(w, *op++);
        break;
    }
    case PUNCT: put_from(w, "(){}[];,", 1); break;
    default: break;
    }
    return k;
}

static writer generate(long tokens, tally *want)
{
    writer w = {malloc(tokens * 80 + 1), 0, 5};
    bench_check(w.text != NULL, "allocating the text");
    memset(want, 0, sizeof *want);
    for (long t = 0; t < tokens; t++) {
        size_t start = w.len;
        enum kind k = write_token(&w);
        want->count[k]++;
        want->length[k] += (long)(w.len - start);
        put_from(&w, "  \t\n", 1 + pick(&w, 2));
    }
    return w;
}

/* ---- the lexer ---- */

enum state {
    START, IN_IDENT, IN_INT, AFTER_DOT, IN_FRACTION, AFTER_E, AFTER_SIGN, IN_EXPONENT,
    IN_STRING, AFTER_BACKSLASH, AFTER_SLASH, IN_BLOCK, AFTER_STAR, IN_LINE, AFTER_OP1
};

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* The second character that makes a two-character operator after `first`, or 0. */
static int pairs_with(int first, int c)
{
    switch (first) {
    case '=': case '!': case '<': case '>': return c == '=' || (first == '<' && c == '<') ||
                                                   (first == '>' && c == '>');
    case '&': return c == '&';
    case '|': return c == '|';
    default: return 0;
    }
}

static void lex(const char *text, size_t n, tally *got)
{
    memset(got, 0, sizeof *got);
    enum state s = START;
    size_t start = 0;
    int first = 0;
#define EMIT(kind, end) (got->count[kind]++, got->length[kind] += (long)((end) - start), s = START)
    for (size_t i = 0; i <= n; i++) {
        int c = i < n ? (unsigned char)text[i] : ' '; /* a final blank ends the last token */
    again:
        switch (s) {
        case START:
            start = i;
            if (c == ' ' || c == '\t' || c == '\n')
                break;
            if (is_alpha(c))
                s = IN_IDENT;
            else if (is_digit(c))
                s = IN_INT;
            else if (c == '"')
                s = IN_STRING;
            else if (c == '/')
                s = AFTER_SLASH;
            else if (strchr("=!<>&|", c))
                s = AFTER_OP1, first = c;
            else if (strchr("+-*", c))
                EMIT(OPERATOR, i + 1);
            else if (strchr("(){}[];,", c))
                EMIT(PUNCT, i + 1);
            else
                bench_check(0, "lexer met an unexpected character");
            break;
        case IN_IDENT:
            if (!is_alpha(c) && !is_digit(c)) {
                EMIT(IDENT, i);
                goto again;
            }
            break;
        case IN_INT:
            if (c == '.')
                s = AFTER_DOT;
            else if (!is_digit(c)) {
                EMIT(INT, i);
                goto again;
            }
            break;
        case AFTER_DOT:
            bench_check(is_digit(c), "a digit after the point");
            s = IN_FRACTION;
            break;
        case IN_FRACTION:
            if (c == 'e' || c == 'E')
                s = AFTER_E;
            else if (!is_digit(c)) {
                EMIT(FLOAT, i);
                goto again;
            }
            break;
        case AFTER_E:
            s = c == '+' || c == '-' ? AFTER_SIGN : IN_EXPONENT;
            bench_check(s == AFTER_SIGN || is_digit(c), "a digit or sign after the e");
            break;
        case AFTER_SIGN:
            bench_check(is_digit(c), "a digit after the exponent's sign");
            s = IN_EXPONENT;
            break;
        case IN_EXPONENT:
            if (!is_digit(c)) {
                EMIT(FLOAT, i);
                goto again;
            }
            break;
        case IN_STRING:
            if (c == '\\')
                s = AFTER_BACKSLASH;
            else if (c == '"')
                EMIT(STRING, i + 1);
            break;
        case AFTER_BACKSLASH:
            s = IN_STRING;
            break;
        case AFTER_SLASH:
            if (c == '*')
                s = IN_BLOCK;
            else if (c == '/')
                s = IN_LINE;
            else {
                EMIT(OPERATOR, i);
                goto again;
            }
            break;
        case IN_BLOCK:
            if (c == '*')
                s = AFTER_STAR;
            break;
        case AFTER_STAR:
            s = c == '/' ? (EMIT(COMMENT, i + 1), START) : c == '*' ? AFTER_STAR : IN_BLOCK;
            break;
        case IN_LINE:
            if (c == '\n')
                EMIT(COMMENT, i + 1);
            break;
        case AFTER_OP1:
            if (pairs_with(first, c))
                EMIT(OPERATOR, i + 1);
            else {
                EMIT(OPERATOR, i);
                goto again;
            }
            break;
        }
    }
#undef EMIT
    bench_check(s == START, "the text ends between tokens");
}

int main(int argc, char **argv)
{
    long tokens = bench_size(argc, argv, 1000000, 1);
    tally want, got;
    writer w = generate(tokens, &want);
    for (int pass = 0; pass < PASSES; pass++) {
        lex(w.text, w.len, &got);
        bench_check(memcmp(&got, &want, sizeof got) == 0, "token counts and lengths by kind");
    }
    printf("lexer %ld tokens, %zu bytes:", tokens, w.len);
    for (int k = 0; k < KINDS; k++)
        printf(" %s %ld", KIND_NAMES[k], got.count[k]);
    printf("\n");
    return 0;
}
