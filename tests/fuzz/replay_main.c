/*
 * replay_main.c - a main() for the fuzz drivers without libFuzzer: runs
 * LLVMFuzzerTestOneInput() once on every file named on the command line,
 * and on every regular file of every directory named there (one level, in
 * name order). Lets `make fuzz-regress` replay the regression inputs and
 * the seed corpus with any C compiler, so that it can run in `make test`.
 *
 * A broken invariant aborts in the driver, and a sanitizer report stops the
 * process, so reaching the end means every input passed. Exit status: 0,
 * or 1 when a file cannot be read or nothing was replayed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL, *grown;
    size_t len = 0, cap = 0, got;

    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 65536;
            grown = realloc(buf, cap);
            if (!grown) {
                fprintf(stderr, "replay: out of memory reading %s\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = grown;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    if (ferror(f)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    /* The exact bytes, in a buffer of exactly len bytes, as libFuzzer does,
     * so that AddressSanitizer sees any read past the end. */
    grown = malloc(len ? len : 1);
    if (!grown) {
        free(buf);
        return -1;
    }
    if (len)
        memcpy(grown, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(grown, len);
    free(grown);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    int i, k, n, bad = 0, done = 0;
    struct stat sb;

    for (i = 1; i < argc; i++) {
        struct dirent **names;

        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
            bad = 1;
            continue;
        }
        if (!S_ISDIR(sb.st_mode)) {
            bad |= replay_file(argv[i]) != 0;
            done++;
            continue;
        }
        n = scandir(argv[i], &names, NULL, by_name);
        if (n < 0) {
            fprintf(stderr, "replay: cannot list %s\n", argv[i]);
            bad = 1;
            continue;
        }
        for (k = 0; k < n; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], names[k]->d_name);
            if (names[k]->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
                bad |= replay_file(path) != 0;
                done++;
            }
            free(names[k]);
        }
        free(names);
    }
    printf("replay: %d input%s passed\n", done, done == 1 ? "" : "s");
    return bad || done == 0 ? 1 : 0;
}
