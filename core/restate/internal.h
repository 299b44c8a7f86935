/*
 * restate/internal.h - shared internals of core_restate (not installed).
 *
 * The frame decoder, the message codec table and the session layout used
 * by session.c and context.c.  Unit tests and the fuzzer include it to
 * reach the frame decoder and codec directly.
 */
#ifndef CORE_RESTATE_INTERNAL_H
#define CORE_RESTATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.pb-c.h"
#include "restate/restate.h"

/* Message type ids (v5/v6). */
enum {
    RS_MSG_START = 0x0000,
    RS_MSG_SUSPENSION = 0x0001,
    RS_MSG_ERROR = 0x0002,
    RS_MSG_END = 0x0003,
    RS_MSG_COMMAND_ACK = 0x0004,
    RS_MSG_PROPOSE_RUN = 0x0005,
    RS_MSG_INPUT = 0x0400,
    RS_MSG_OUTPUT = 0x0401,
    RS_MSG_GET_LAZY_STATE = 0x0402,
    RS_MSG_SET_STATE = 0x0403,
    RS_MSG_CLEAR_STATE = 0x0404,
    RS_MSG_CLEAR_ALL_STATE = 0x0405,
    RS_MSG_GET_EAGER_STATE = 0x0407,
    RS_MSG_CALL = 0x040D,
    RS_MSG_ONE_WAY_CALL = 0x040E,
    RS_MSG_RUN = 0x0411,
    RS_MSG_GET_LAZY_STATE_DONE = 0x8002,
    RS_MSG_CALL_DONE = 0x800D,
    RS_MSG_CALL_INVOCATION_ID = 0x800E,
    RS_MSG_RUN_DONE = 0x8011,
    RS_MSG_SIGNAL = 0xFBFF
};

#define RS_SIGNAL_CANCEL 1u

/* Type classes from the id ranges of the protocol. */
int rs_msg_is_command(uint16_t type);
int rs_msg_is_notification(uint16_t type);

/* Human name of a message type ("RunCommand"), "unknown" otherwise. */
const char *rs_msg_name(uint16_t type);

/*
 * The protobuf-c descriptor for a message type, or NULL when this library
 * has no codec for it.  Every notification type maps to the notification
 * template.
 */
const ProtobufCMessageDescriptor *rs_msg_descriptor(uint16_t type);

/*
 * Encode one frame (header + packed m) into a malloc'd buffer.  Returns
 * the buffer and its length in *len, or NULL when out of memory or the
 * message is larger than 4 GiB.
 */
uint8_t *rs_frame_encode(uint16_t type, const ProtobufCMessage *m, size_t *len);

/* Write the 8-byte big-endian frame header. */
void rs_frame_header_put(uint8_t out[8], uint16_t type, uint16_t flags,
                         uint32_t len);

/* ------------------------------------------------------------------ */
/* Incremental frame decoder                                           */
/* ------------------------------------------------------------------ */

/*
 * Receives one complete frame; takes ownership of payload (malloc'd, never
 * NULL, len may be 0).  Returns 0, or -1 to stop decoding (the callback
 * then describes the error itself).
 */
typedef int (*rs_frame_fn)(void *user, uint16_t type, uint16_t flags,
                           uint8_t *payload, uint32_t len);

typedef struct rs_frame_decoder {
    uint32_t limit; /* largest accepted payload */
    uint8_t head[8];
    size_t head_have;
    uint8_t *body;
    uint32_t body_len;
    uint32_t body_have;
    uint16_t type;
    uint16_t flags;
    char error[160];
} rs_frame_decoder;

/* A decoder accepting payloads up to limit bytes. */
void rs_frame_decoder_init(rs_frame_decoder *d, uint32_t limit);

/*
 * Feed bytes; calls fn for every completed frame in order.  Returns 0, or
 * -1 when a frame is over the limit (d->error says which), memory ran out,
 * or fn returned -1.  After -1 the decoder must not be fed again.
 */
int rs_frame_decoder_feed(rs_frame_decoder *d, const uint8_t *data, size_t len,
                          rs_frame_fn fn, void *user);

/* Non-zero when no partial frame is buffered. */
int rs_frame_decoder_idle(const rs_frame_decoder *d);

/* Free a partial frame. */
void rs_frame_decoder_free(rs_frame_decoder *d);

/* ------------------------------------------------------------------ */
/* Registry layout                                                     */
/* ------------------------------------------------------------------ */

struct rs_handler_def {
    char *name;
    rs_handler_kind kind;
    rs_handler_fn fn;
    void *arg;
};

struct rs_service_def {
    char *name;
    rs_service_kind kind;
    struct rs_handler_def *handlers;
    size_t nhandlers;
};

struct rs_registry {
    struct rs_service_def *services;
    size_t nservices;
    char error[256];
};

const struct rs_service_def *rs_registry_service(const rs_registry *reg,
                                                 const char *name);
const struct rs_handler_def *
rs_registry_handler(const struct rs_service_def *svc, const char *name);

/* ------------------------------------------------------------------ */
/* Session layout                                                      */
/* ------------------------------------------------------------------ */

enum rs_end {
    RS_END_NONE = 0,
    RS_END_COMPLETED,
    RS_END_FAILED,
    RS_END_SUSPENDED,
    RS_END_ERROR,
    RS_END_IO
};

struct rs_cmd {
    uint16_t type;
    uint8_t *payload;
    uint32_t len;
};

struct rs_notif {
    Restate__NotificationTemplate *msg;
    uint16_t type;
};

struct rs_state_entry {
    uint8_t *key;
    size_t key_len;
    const uint8_t *value; /* owned by the session's keep list */
    size_t value_len;
    int present;
};

struct rs_run_result {
    uint8_t *data;
    size_t len;
    size_t cap;
    int oom;
    uint32_t code;
    char *message;
};

struct rs_ctx {
    struct rs_session *s;
};

struct rs_session {
    const struct rs_service_def *svc;
    const struct rs_handler_def *h;
    int version;
    rs_session_config cfg;

    /* input */
    rs_frame_decoder dec;
    int input_failed;
    uint32_t input_code;
    Restate__StartMessage *start;
    uint32_t entries_seen;
    Restate__InputCommandMessage *input;
    struct rs_cmd *cmds;
    size_t ncmds;
    size_t cap_cmds;
    struct rs_notif *notifs;
    size_t nnotifs;
    size_t cap_notifs;

    /* execution */
    int ran;
    size_t oversized_limit; /* > 0: input cut at this many bytes */
    size_t replay_pos;
    uint32_t next_cid;
    uint32_t cmd_index;
    struct rs_state_entry *state;
    size_t nstate;
    size_t cap_state;
    int state_complete;
    void **keep;
    size_t nkeep;
    size_t cap_keep;
    uint8_t *result;
    size_t result_len;
    int has_failure;
    uint32_t failure_code;
    char *failure_msg;
    char *retry_msg;
    uint64_t retry_after_ms;

    /* output */
    rs_write_fn write;
    void *user;
    uint8_t *resp;
    size_t resp_len;
    size_t resp_cap;
    enum rs_end end;
    char error[512];

    rs_ctx ctx;
};

/* Session helpers shared with context.c (session.c). */
int rs_s_emit(struct rs_session *s, uint16_t type, const ProtobufCMessage *m);
rs_status rs_s_status(const struct rs_session *s);
void rs_s_error(struct rs_session *s, uint32_t code, int related,
                uint16_t rel_type, const char *rel_name, uint64_t delay_ms,
                const char *fmt, ...) RS_PRINTF(7, 8);
void rs_s_suspend(struct rs_session *s, uint32_t cid);
int rs_s_keep(struct rs_session *s, void *ptr);
void rs_s_set_failure(struct rs_session *s, uint32_t code, const char *msg,
                      size_t len);
rs_status rs_s_journal(struct rs_session *s, uint16_t type,
                       const ProtobufCMessage *expected, const char *name,
                       ProtobufCMessage **recorded);
rs_status rs_s_await(struct rs_session *s, uint32_t cid,
                     const Restate__NotificationTemplate **out);
int rs_s_cancel_pending(const struct rs_session *s);
const Restate__NotificationTemplate *rs_s_find(const struct rs_session *s,
                                               uint32_t cid, size_t *pos);

#endif /* CORE_RESTATE_INTERNAL_H */
