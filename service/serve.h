/*
 * serve.h - the `trainbound serve` subcommand: the REST server, its SQLite
 * job store and its libuv worker pool. main.c dispatches here.
 * Runs on the main thread, which becomes the event-loop thread.
 */
#ifndef TB_SERVE_H
#define TB_SERVE_H

/* argv[0] is "serve". Returns the process exit code. */
int serve_main(int argc, char **argv);

#endif
