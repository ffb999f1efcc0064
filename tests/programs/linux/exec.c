/* execve of another program: argv[1] is its path, the rest its arguments. The output of
   the new image and its exit status are what the caller sees; getpid() stays the same. */
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 99;
    printf("exec: pid before %s\n", getpid() > 0 ? "known" : "?");
    fflush(stdout);
    char *env[] = {"MVVM_TEST_VAR=set by exec", NULL};
    execve(argv[1], argv + 1, env);
    perror("execve");
    return 127;
}
