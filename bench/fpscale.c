/*
 * fpscale.c - `make bench`'s ceiling on multi-core scaling: how much
 * floating-point throughput N busy cores of this machine give together,
 * relative to one. Each thread runs ten independent chains of vector FMAs
 * (what a throughput-bound SIMD kernel does); the figure is
 * N * (1-thread time) / (N-thread time). On a machine whose cores are
 * fully independent and keep their clock it is N; shared cores or a lower
 * all-core clock make it less, and no program can scale past it.
 *
 *     fpscale N        prints one JSON line
 *
 * Built by bench/run.sh with -O2 -march=native -pthread. Threads: main
 * plus N workers, each touching only its own slot.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef double v4 __attribute__((vector_size(32)));

#define ITERS 200000000L

struct slot {
    pthread_t tid;
    double sink; /* keeps the chains alive */
};

static void *burn(void *arg)
{
    struct slot *s = arg;
    const v4 a = {0.999999, 0.999999, 0.999999, 0.999999}, b = {1e-9, 1e-9, 1e-9, 1e-9};
    v4 c0 = a * 0.1, c1 = a * 0.2, c2 = a * 0.3, c3 = a * 0.4, c4 = a * 0.5, c5 = a * 0.6,
       c6 = a * 0.7, c7 = a * 0.8, c8 = a * 0.9, c9 = a; /* distinct: ten chains */
    long i;

    for (i = 0; i < ITERS; i++) {
        c0 = c0 * a + b;
        c1 = c1 * a + b;
        c2 = c2 * a + b;
        c3 = c3 * a + b;
        c4 = c4 * a + b;
        c5 = c5 * a + b;
        c6 = c6 * a + b;
        c7 = c7 * a + b;
        c8 = c8 * a + b;
        c9 = c9 * a + b;
    }
    c0 += c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9;
    s->sink = c0[0] + c0[1] + c0[2] + c0[3];
    return NULL;
}

/* Wall seconds for n threads burning at once. */
static double run(int n)
{
    struct slot *s = calloc((size_t)n, sizeof *s);
    struct timespec t0, t1;
    int i;

    if (!s)
        exit(1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i++)
        if (pthread_create(&s[i].tid, NULL, burn, &s[i]) != 0)
            exit(1);
    for (i = 0; i < n; i++)
        pthread_join(s[i].tid, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(s);
    return (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2;
    double t1 = 1e300, tn = 1e300, t;
    int k;

    if (n < 1 || n > 1024) {
        fprintf(stderr, "usage: fpscale N (1..1024)\n");
        return 2;
    }
    for (k = 0; k < 3; k++) { /* best of three, interleaved */
        t = run(1);
        t1 = t < t1 ? t : t1;
        t = run(n);
        tn = t < tn ? t : tn;
    }
    printf("{\"threads\": %d, \"t1_s\": %.4f, \"tn_s\": %.4f, \"scaling\": %.3f}\n", n, t1, tn,
           n * t1 / tn);
    return 0;
}
