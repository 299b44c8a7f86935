/*
 * tutil.h - helpers shared by the restate unit tests: vector files, frame
 * splitting, journal building and one-call session runs.
 */
#ifndef TESTS_RESTATE_TUTIL_H
#define TESTS_RESTATE_TUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "restate/internal.h"

/* One frame inside a body buffer (payload points into the buffer). */
typedef struct tu_frame {
    uint16_t type;
    uint16_t flags;
    const uint8_t *payload;
    uint32_t len;
} tu_frame;

/* A growable byte buffer; free data with free(). */
typedef struct tu_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} tu_buf;

/* Read vectors/<rel> into a malloc'd buffer (fails the test if absent). */
uint8_t *tu_read_vector(const char *rel, size_t *len);

/* Split a body into frames; returns the count or -1 when malformed. */
int tu_split(const uint8_t *buf, size_t len, tu_frame *out, int max);

/* Append raw bytes / one encoded frame of m to b. */
void tu_append(tu_buf *b, const void *data, size_t len);
void tu_append_msg(tu_buf *b, uint16_t type, const ProtobufCMessage *m);

/* Journal builders for hand-made request bodies. */
void tu_start(tu_buf *b, uint32_t known, const char *key, int partial,
              uint32_t retry_count);
void tu_start_state(tu_buf *b, uint32_t known, const char *key,
                    const char *skey, const char *svalue);
void tu_input(tu_buf *b, const char *json);
void tu_run_cmd(tu_buf *b, uint32_t cid, const char *name);
void tu_notif_value(tu_buf *b, uint16_t type, uint32_t cid, const char *value);
void tu_notif_failure(tu_buf *b, uint16_t type, uint32_t cid, uint32_t code,
                      const char *message);
void tu_notif_invocation_id(tu_buf *b, uint32_t cid, const char *id);
void tu_signal_cancel(tu_buf *b);
void tu_call_cmd(tu_buf *b, const char *svc, const char *handler,
                 const char *key, const char *param, uint32_t id_idx,
                 uint32_t result_idx);
void tu_set_state_cmd(tu_buf *b, const char *key, const char *value);

/*
 * Run one attempt: feed body in chunks of chunk bytes (0: all at once),
 * run, and return the response (malloc'd copy, *len).  *outcome gets the
 * result.  cfg may be NULL.
 */
uint8_t *tu_attempt(const rs_registry *reg, const char *svc,
                    const char *handler, const uint8_t *body, size_t len,
                    size_t chunk, const rs_session_config *cfg,
                    rs_outcome *outcome, size_t *out_len);

#endif /* TESTS_RESTATE_TUTIL_H */
