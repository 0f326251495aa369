/*
 * main.c - the trainbound binary: main() and subcommand dispatch only.
 * `run` and `validate` live in cli.c, `serve` in serve.c, `worker` in
 * worker.c.
 * Threads: the main thread.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "serve.h"
#include "worker.h"

#ifndef TB_VERSION
#define TB_VERSION "0.1.0"
#endif

int main(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2) {
        cli_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        cli_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("trainbound %s\n", TB_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "run") == 0)
        return cli_run_main(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0)
        return cli_validate_main(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return serve_main(argc - 1, argv + 1);
    if (strcmp(cmd, "worker") == 0)
        return worker_main(argc - 1, argv + 1);
    fprintf(stderr, "trainbound: unknown command '%s' (try trainbound --help)\n", cmd);
    return CLI_EXIT_USAGE;
}
