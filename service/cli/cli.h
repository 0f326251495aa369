/*
 * cli.h - the `trainbound run` and `trainbound validate` subcommands and
 * the top-level usage text. main.c dispatches here.
 * Threads: called on the main thread, which runs the sweep's private libuv
 * loop; the tiles run on the libuv thread pool.
 */
#ifndef TB_CLI_H
#define TB_CLI_H

#include <stdio.h>

/* Process exit codes of every subcommand. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,      /* runtime failure: out of memory, I/O error */
    CLI_EXIT_USAGE = 2,        /* bad spec, unreadable spec file, bad arguments */
    CLI_EXIT_INTERRUPTED = 130 /* SIGINT during the sweep */
};

/*
 * `trainbound run [--threads N] [--quiet] SPEC.json|-`. argv[0] is "run";
 * argv is borrowed. Prints the result document and a newline on stdout.
 * Returns a cli_exit code. Calls setenv("UV_THREADPOOL_SIZE"), so it must
 * run before anything else in the process uses libuv.
 */
int cli_run_main(int argc, char **argv);

/* `trainbound validate SPEC.json|-`. argv[0] is "validate"; borrowed.
 * Prints the canonical spec and a newline on stdout when it is valid. */
int cli_validate_main(int argc, char **argv);

/* Writes the top-level usage text to f (borrowed). */
void cli_usage(FILE *f);

#endif /* TB_CLI_H */
