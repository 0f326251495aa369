/*
 * worker.h - the `trainbound worker` subcommand: tiles of a shared
 * PostgreSQL queue, no HTTP API (worker.c). main.c dispatches here.
 * Runs on the main thread, which becomes the event-loop thread.
 */
#ifndef TB_WORKER_H
#define TB_WORKER_H

/* argv[0] is "worker". Returns the process exit code: 0 after a graceful
 * shutdown (or --help), 1 runtime failure, 2 usage (a bad flag, or a --db
 * that is not a postgresql:// URI). */
int worker_main(int argc, char **argv);

#endif
