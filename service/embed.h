/*
 * embed.h - files compiled into the binary: SQL migrations and web assets.
 * The arrays are generated at build time by service/gen-embed.sh from
 * the migrations/NNNN_name.sql files and the asset list in the Makefile. Read-only, any thread.
 */
#ifndef TB_EMBED_H
#define TB_EMBED_H

#include <stddef.h>

struct embed_file {
    const char *name;          /* path relative to the repository root */
    const unsigned char *data; /* len bytes, followed by a NUL */
    size_t len;
};

/* Sorted by name; terminated by an entry with name == NULL. */
extern const struct embed_file migrations_files[];
extern const size_t migrations_count;
extern const struct embed_file assets_files[];
extern const size_t assets_count;

#endif
