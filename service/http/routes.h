/*
 * routes.h - the handlers of the REST API (/v1/jobs..., /healthz,
 * /readyz, /openapi.yaml), plugged into http.c as struct http_handlers
 * with a struct app as user data. Every error is an RFC 9457 problem
 * (problem.h); the route table is router.h. routes.c dispatches to one
 * route file per resource (routes_*.c, listed in routes_int.h).
 *
 * Threads: loop thread only (they run inside MHD_run()); the long reads
 * of /boundary and of the /cells heat map run on the reader thread
 * (reader.h) while their request waits.
 */
#ifndef TB_ROUTES_H
#define TB_ROUTES_H

#include "app.h"
#include "http.h"

/* Fills h with the route handlers for app (borrowed; outlives the server). */
void routes_handlers(struct app *app, struct http_handlers *h);

#endif /* TB_ROUTES_H */
