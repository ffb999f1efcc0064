/* The README's example: an ASCII Mandelbrot set, then a checksum of the escape counts.
   Built with: riscv64-linux-gnu-gcc -O2 -static -s -o examples/mandelbrot examples/mandelbrot.c */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int width = argc > 1 ? atoi(argv[1]) : 72, height = width / 3, limit = 200;
    unsigned long checksum = 0;
    for (int row = 0; row < height; row++) {
        for (int col = 0; col < width; col++) {
            double cr = -2.2 + 3.0 * col / width, ci = -1.2 + 2.4 * row / height;
            double zr = 0, zi = 0;
            int n = 0;
            while (n < limit && zr * zr + zi * zi < 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2 * zr * zi + ci;
                zr = t;
                n++;
            }
            checksum = checksum * 31 + n;
            putchar(" .:-=+*#%@"[n == limit ? 9 : n % 9]);
        }
        putchar('\n');
    }
    printf("checksum %lu\n", checksum);
    return 0;
}
