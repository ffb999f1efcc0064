/* coremark: a CoreMark-like workload written for this suite from CoreMark's published design
 * (its sources cannot be fetched here): each iteration runs the four kernels CoreMark
 * times, on the same kinds of data, and chains their results through a CRC-16.
 *   - list: a linked list of (value, index) items in one block of memory; find items,
 *     reverse the list, merge-sort it by value and again by index;
 *   - matrix: 16-bit matrices; add a constant, multiply by a constant, by a vector, by a
 *     matrix, and by a matrix keeping only extracted bit fields;
 *   - state: a scanner that classifies comma-separated tokens (integers, floats,
 *     exponents, invalid) with a switch-based state machine, then corrupts the input and
 *     scans again;
 *   - crc: the CRC-16 (CCITT, reflected) over every kernel's results.
 * The score is iterations per second, timed around the iterations as CoreMark times them
 * (bench_score); the runner also times the whole process.  Self-checks, at every size:
 * the sorted list is in order and holds every item once, the matrix products equal a
 * plain recomputation, and the scanner's counts cover every token.
 */
#include <string.h>

#include "bench.h"

/* -- crc ------------------------------------------------------------------------------- */

static uint16_t crc16_byte(uint8_t data, uint16_t crc)
{
    for (int i = 0; i < 8; i++) {
        int carry = (data ^ crc) & 1;
        data >>= 1;
        crc = carry ? (uint16_t)((crc >> 1) ^ 0xa001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

static uint16_t crc16(uint16_t value, uint16_t crc)
{
    crc = crc16_byte((uint8_t)value, crc);
    return crc16_byte((uint8_t)(value >> 8), crc);
}

static uint16_t crc32w(uint32_t value, uint16_t crc)
{
    return crc16((uint16_t)(value >> 16), crc16((uint16_t)value, crc));
}

/* -- list ------------------------------------------------------------------------------ */

typedef struct item {
    struct item *next;
    int16_t value;
    int16_t index;
} item;

enum { ITEMS = 200 };

static item pool[ITEMS];

static item *list_build(uint64_t *seed)
{
    for (int i = 0; i < ITEMS; i++) {
        pool[i].value = (int16_t)(bench_rand(seed) & 0x7fff);
        pool[i].index = (int16_t)i;
        pool[i].next = i + 1 < ITEMS ? &pool[i + 1] : NULL;
    }
    return &pool[0];
}

static item *list_find(item *list, int16_t value, int16_t index)
{
    if (index >= 0) {
        while (list && list->index != index)
            list = list->next;
    } else {
        while (list && (list->value & 0xff) != (value & 0xff))
            list = list->next;
    }
    return list;
}

static item *list_reverse(item *list)
{
    item *done = NULL;
    while (list) {
        item *next = list->next;
        list->next = done;
        done = list;
        list = next;
    }
    return done;
}

typedef int (*compare)(const item *, const item *);

static int by_value(const item *a, const item *b) { return a->value - b->value; }
static int by_index(const item *a, const item *b) { return a->index - b->index; }

/* Bottom-up merge sort of a singly linked list (CoreMark's core_list_mergesort shape). */
static item *list_sort(item *list, compare cmp)
{
    for (int width = 1;; width *= 2) {
        item *p = list, *tail = NULL;
        int merges = 0;
        list = NULL;
        while (p) {
            merges++;
            item *q = p;
            int psize = 0;
            for (int i = 0; i < width && q; i++, psize++)
                q = q->next;
            int qsize = width;
            while (psize > 0 || (qsize > 0 && q)) {
                item *e;
                if (psize == 0)
                    e = q, q = q->next, qsize--;
                else if (qsize == 0 || !q || cmp(p, q) <= 0)
                    e = p, p = p->next, psize--;
                else
                    e = q, q = q->next, qsize--;
                if (tail)
                    tail->next = e;
                else
                    list = e;
                tail = e;
            }
            p = q;
        }
        tail->next = NULL;
        if (merges <= 1)
            return list;
    }
}

static void list_check(const item *list, compare cmp)
{
    int count = 0;
    long index_sum = 0;
    for (const item *p = list; p; p = p->next, count++) {
        index_sum += p->index;
        if (p->next)
            bench_check(cmp(p, p->next) <= 0, "the merge sort keeps the list in order");
    }
    bench_check(count == ITEMS && index_sum == (long)ITEMS * (ITEMS - 1) / 2,
                "the sorted list holds every item once");
}

static uint16_t list_kernel(item **head, uint16_t crc, int check)
{
    item *list = *head;
    for (int16_t i = 0; i < 32; i++) {
        item *found = list_find(list, (int16_t)(i * 7), (int16_t)(i & 1 ? -1 : i * 5));
        crc = crc16(found ? (uint16_t)found->value : 0xffff, crc);
        list = list_reverse(list);
    }
    list = list_sort(list, by_value);
    if (check)
        list_check(list, by_value);
    for (const item *p = list; p; p = p->next)
        crc = crc16((uint16_t)p->value, crc);
    /* Change the data a little each iteration, so no two iterations sort the same list. */
    list->value = (int16_t)((list->value + crc) & 0x7fff);
    list = list_sort(list, by_index);
    if (check)
        list_check(list, by_index);
    *head = list;
    return crc;
}

/* -- matrix ---------------------------------------------------------------------------- */

enum { N = 24 };

typedef int16_t matrix16[N][N];
typedef int32_t matrix32[N][N];

static uint16_t matrix_sum(const matrix32 c, int32_t clip, uint16_t crc)
{
    int32_t tmp = 0, prev = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t cur = c[i][j];
            tmp += cur;
            if (tmp > clip) {
                crc = crc16(10, crc);
                tmp = 0;
            } else {
                crc = crc16(cur > prev ? 1 : 0, crc);
            }
            prev = cur;
        }
    return crc;
}

static void mul_const(matrix32 c, const matrix16 a, int16_t k)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            c[i][j] = (int32_t)a[i][j] * k;
}

static void add_const(matrix16 a, int16_t k)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            a[i][j] = (int16_t)(a[i][j] + k);
}

static void mul_vect(int32_t c[N], const matrix16 a, const int16_t b[N])
{
    for (int i = 0; i < N; i++) {
        int32_t sum = 0;
        for (int j = 0; j < N; j++)
            sum += (int32_t)a[i][j] * b[j];
        c[i] = sum;
    }
}

static void mul_matrix(matrix32 c, const matrix16 a, const matrix16 b)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t sum = 0;
            for (int k = 0; k < N; k++)
                sum += (int32_t)a[i][k] * b[k][j];
            c[i][j] = sum;
        }
}

static void mul_matrix_bits(matrix32 c, const matrix16 a, const matrix16 b)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t sum = 0;
            for (int k = 0; k < N; k++) {
                int32_t t = (int32_t)a[i][k] * b[k][j];
                sum += ((t >> 2) & 0xf) * ((t >> 5) & 0x7f);
            }
            c[i][j] = sum;
        }
}

/* The product recomputed with the loops in another order: it must agree. */
static void matrix_check(const matrix32 c, const matrix16 a, const matrix16 b)
{
    static matrix32 again;
    memset(again, 0, sizeof again);
    for (int k = 0; k < N; k++)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                again[i][j] += (int32_t)a[i][k] * b[k][j];
    bench_check(memcmp(again, c, sizeof again) == 0, "the matrix product equals a recomputation");
}

static uint16_t matrix_kernel(matrix16 a, matrix16 b, uint16_t crc, int check)
{
    static matrix32 c;
    static int32_t v[N];
    int16_t k = (int16_t)(crc | 0xf);
    add_const(a, k);
    mul_const(c, a, k);
    crc = matrix_sum(c, k, crc);
    mul_vect(v, a, b[0]);
    for (int i = 0; i < N; i++)
        crc = crc32w((uint32_t)v[i], crc);
    mul_matrix(c, a, b);
    if (check)
        matrix_check(c, a, b);
    crc = matrix_sum(c, k, crc);
    mul_matrix_bits(c, a, b);
    crc = matrix_sum(c, k, crc);
    add_const(a, (int16_t)-k);
    return crc;
}

/* -- state machine --------------------------------------------------------------------- */

enum state { START, INVALID, S1, S2, INT, FLOAT, EXPONENT, SCIENTIFIC, STATES };

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Scan one token from *text up to a comma; returns its final state and counts every
 * transition out of each state. */
static enum state scan(const char **text, unsigned transitions[STATES])
{
    const char *p = *text;
    enum state state = START;
    for (char c; (c = *p) != '\0'; p++) {
        if (c == ',') {
            p++;
            break;
        }
        switch (state) {
        case START:
            if (is_digit(c))
                state = INT;
            else if (c == '+' || c == '-')
                state = S1;
            else if (c == '.')
                state = FLOAT;
            else
                state = INVALID, transitions[INVALID]++;
            transitions[START]++;
            break;
        case S1:
            if (is_digit(c))
                state = INT, transitions[S1]++;
            else if (c == '.')
                state = FLOAT, transitions[S1]++;
            else
                state = INVALID, transitions[S1]++;
            break;
        case INT:
            if (c == '.')
                state = FLOAT, transitions[INT]++;
            else if (!is_digit(c))
                state = INVALID, transitions[INT]++;
            break;
        case FLOAT:
            if (c == 'E' || c == 'e')
                state = S2, transitions[FLOAT]++;
            else if (!is_digit(c))
                state = INVALID, transitions[FLOAT]++;
            break;
        case S2:
            if (c == '+' || c == '-')
                state = EXPONENT, transitions[S2]++;
            else
                state = INVALID, transitions[S2]++;
            break;
        case EXPONENT:
            if (is_digit(c))
                state = SCIENTIFIC, transitions[EXPONENT]++;
            else
                state = INVALID, transitions[EXPONENT]++;
            break;
        case SCIENTIFIC:
            if (!is_digit(c))
                state = INVALID, transitions[INVALID]++;
            break;
        default:
            break;
        }
    }
    *text = p;
    return state;
}

static uint16_t scan_all(const char *text, uint16_t crc, int *tokens)
{
    unsigned finals[STATES] = {0}, transitions[STATES] = {0};
    *tokens = 0;
    while (*text) {
        finals[scan(&text, transitions)]++;
        ++*tokens;
    }
    for (int s = 0; s < STATES; s++)
        crc = crc32w(finals[s], crc32w(transitions[s], crc));
    int total = 0;
    for (int s = 0; s < STATES; s++)
        total += (int)finals[s];
    bench_check(total == *tokens, "every token ends in one state");
    return crc;
}

enum { TEXT = 1200 };

static void state_build(char *text, uint64_t *seed)
{
    static const char *const samples[] = {
        "5012", "1234", "-874", "+122", "35.54400", ".1234500", "-110.700", "+0.64400",
        "5.500e+3", "-.123e-2", "-87e+832", "+0.6e-12", "T0.3e-1F", "-T.T++Tq", "1T3.4e4z",
        "34.0e-T^",
    };
    size_t n = 0;
    while (n + 10 < TEXT) {
        const char *s = samples[bench_rand(seed) % 16];
        size_t len = strlen(s);
        memcpy(text + n, s, len);
        n += len;
        text[n++] = ',';
    }
    text[n] = '\0';
}

static uint16_t state_kernel(char *text, uint16_t crc)
{
    int tokens;
    crc = scan_all(text, crc, &tokens);
    /* Corrupt every 7th character (never into or out of a comma or the end), scan again,
     * and undo it. */
    static char saved[TEXT];
    size_t len = strlen(text);
    memcpy(saved, text, len);
    for (size_t i = crc % 7; i < len; i += 7) {
        char c = (char)(text[i] ^ (0x10 | (crc & 7)));
        if (text[i] != ',' && c != ',' && c != '\0')
            text[i] = c;
    }
    int again;
    crc = scan_all(text, crc, &again);
    bench_check(again == tokens, "corruption keeps the token count");
    memcpy(text, saved, len);
    return crc;
}

/* -- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    long iterations = bench_size(argc, argv, 6000, 1);
    uint64_t seed = 7;
    static matrix16 a, b;
    static char text[TEXT];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (int16_t)(bench_rand(&seed) % 64);
            b[i][j] = (int16_t)(bench_rand(&seed) % 64);
        }
    item *list = list_build(&seed);
    state_build(text, &seed);
    bench_check(crc16(0x3132, 0) == crc16_byte('1', crc16_byte('2', 0)),
                "crc16 of a word is the crc16 of its bytes");

    uint16_t crc = 0;
    double start = bench_clock();
    for (long r = 0; r < iterations; r++) {
        int check = r == 0 || r == iterations - 1;
        crc = list_kernel(&list, crc, check);
        crc = matrix_kernel(a, b, crc, check);
        crc = state_kernel(text, crc);
    }
    bench_score((double)iterations, bench_clock() - start);
    printf("coremark %ld iterations: crc %04x\n", iterations, crc);
    return 0;
}
