/*
 * session.c - one invocation attempt in request/response mode.
 *
 * Input side: frames are decoded incrementally; Start comes first, then
 * exactly known_entries journal entries: commands go to a replay FIFO
 * (kept as raw payloads, decoded when the handler reaches them),
 * notifications are decoded at once and kept in arrival order.
 *
 * Run side: the handler runs on the caller's thread.  Each context call
 * builds the command it would write, pops and compares the next recorded
 * command while the FIFO is not empty (a difference ends the attempt with
 * error 570), and writes it otherwise.  An await finds its notification or
 * ends the attempt with a Suspension.  Exactly one terminal message (End,
 * Suspension or Error) is produced per attempt.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "restate/internal.h"

#define TAG "restate"

void rs_session_config_init(rs_session_config *cfg)
{
    cfg->max_message_size = RS_DEFAULT_MESSAGE_LIMIT;
    cfg->run_max_attempts = 5;
    cfg->run_initial_delay_ms = 100;
    cfg->run_max_delay_ms = 10000;
    cfg->run_factor = 2.0;
}

rs_session *rs_session_new(const rs_registry *reg, const char *service,
                           const char *handler, int version,
                           const rs_session_config *cfg)
{
    const struct rs_service_def *svc;
    const struct rs_handler_def *h;
    rs_session *s;

    if (reg == NULL || rs_protocol_content_type(version) == NULL)
        return NULL;
    svc = rs_registry_service(reg, service);
    h = rs_registry_handler(svc, handler);
    if (h == NULL)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->svc = svc;
    s->h = h;
    s->version = version;
    if (cfg != NULL)
        s->cfg = *cfg;
    else
        rs_session_config_init(&s->cfg);
    if (s->cfg.max_message_size == 0)
        s->cfg.max_message_size = RS_DEFAULT_MESSAGE_LIMIT;
    if (s->cfg.run_max_attempts == 0)
        s->cfg.run_max_attempts = 1;
    if (s->cfg.run_factor < 1.0)
        s->cfg.run_factor = 1.0;
    rs_frame_decoder_init(&s->dec, s->cfg.max_message_size);
    s->ctx.s = s;
    return s;
}

void rs_session_free(rs_session *s)
{
    size_t i;

    if (s == NULL)
        return;
    rs_frame_decoder_free(&s->dec);
    if (s->start != NULL)
        restate__start_message__free_unpacked(s->start, NULL);
    if (s->input != NULL)
        restate__input_command_message__free_unpacked(s->input, NULL);
    for (i = 0; i < s->ncmds; i++)
        free(s->cmds[i].payload);
    free(s->cmds);
    for (i = 0; i < s->nnotifs; i++)
        restate__notification_template__free_unpacked(s->notifs[i].msg, NULL);
    free(s->notifs);
    for (i = 0; i < s->nstate; i++)
        free(s->state[i].key);
    free(s->state);
    for (i = 0; i < s->nkeep; i++)
        free(s->keep[i]);
    free(s->keep);
    free(s->result);
    free(s->failure_msg);
    free(s->retry_msg);
    free(s->resp);
    free(s);
}

const char *rs_session_error(const rs_session *s)
{
    return s->error;
}

const char *rs_session_invocation_id(const rs_session *s)
{
    return s->start != NULL ? s->start->debug_id : "";
}

rs_bytes rs_session_output(const rs_session *s)
{
    rs_bytes b = {s->resp, s->resp_len};

    return b;
}

/* ------------------------------------------------------------------ */
/* Input                                                               */
/* ------------------------------------------------------------------ */

static int input_error(rs_session *s, uint32_t code, const char *fmt, ...)
    RS_PRINTF(3, 4);

static int input_error(rs_session *s, uint32_t code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->error, sizeof(s->error), fmt, ap);
    va_end(ap);
    s->input_failed = 1;
    s->input_code = code;
    return -1;
}

static int take_start(rs_session *s, const uint8_t *payload, uint32_t len)
{
    s->start = restate__start_message__unpack(NULL, len, payload);
    if (s->start == NULL)
        return input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                           "StartMessage (%u bytes) does not decode", len);
    if (s->start->known_entries == 0)
        return input_error(s, RS_CODE_INTERNAL,
                           "StartMessage announces 0 journal entries; the "
                           "input command is missing");
    return 0;
}

/* Array arr holds n of *cap elements of elem bytes: return it, or a larger
 * copy (doubling, from 16) when full, updating *cap. NULL when out of memory,
 * arr and *cap then untouched. */
static void *room_for_one(void *arr, size_t n, size_t *cap, size_t elem)
{
    size_t want;
    void *grown;

    if (n < *cap)
        return arr;
    want = *cap ? *cap * 2 : 16;
    grown = realloc(arr, want * elem);
    if (grown != NULL)
        *cap = want;
    return grown;
}

/* Keep a command's raw payload; decode the input and check known ones. */
static int take_command(rs_session *s, uint16_t type, uint8_t *payload,
                        uint32_t len)
{
    const ProtobufCMessageDescriptor *desc = rs_msg_descriptor(type);
    struct rs_cmd *grown;

    if (s->ncmds == 0) {
        if (type != RS_MSG_INPUT)
            return input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                               "first journal command is %s (0x%04x), "
                               "expected InputCommand",
                               rs_msg_name(type), type);
        s->input = restate__input_command_message__unpack(NULL, len, payload);
        if (s->input == NULL)
            return input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                               "InputCommand (%u bytes) does not decode", len);
    }
    else if (desc != NULL) {
        ProtobufCMessage *m =
            protobuf_c_message_unpack(desc, NULL, len, payload);

        if (m == NULL)
            return input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                               "journal command %zu, %s (%u bytes), does "
                               "not decode",
                               s->ncmds, rs_msg_name(type), len);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    grown = room_for_one(s->cmds, s->ncmds, &s->cap_cmds, sizeof(*grown));
    if (grown == NULL)
        return input_error(s, RS_CODE_INTERNAL,
                           "out of memory storing the journal");
    s->cmds = grown;
    s->cmds[s->ncmds].type = type;
    s->cmds[s->ncmds].payload = payload;
    s->cmds[s->ncmds].len = len;
    s->ncmds++;
    return 0;
}

static int take_notification(rs_session *s, uint16_t type,
                             const uint8_t *payload, uint32_t len)
{
    Restate__NotificationTemplate *n;
    struct rs_notif *grown;

    n = restate__notification_template__unpack(NULL, len, payload);
    if (n == NULL)
        return input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                           "%s (0x%04x, %u bytes) does not decode",
                           rs_msg_name(type), type, len);
    if (n->id_case == RESTATE__NOTIFICATION_TEMPLATE__ID__NOT_SET ||
        n->result_case == RESTATE__NOTIFICATION_TEMPLATE__RESULT__NOT_SET) {
        restate__notification_template__free_unpacked(n, NULL);
        return input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                           "%s (0x%04x) lacks its id or its result",
                           rs_msg_name(type), type);
    }
    grown = room_for_one(s->notifs, s->nnotifs, &s->cap_notifs, sizeof(*grown));
    if (grown == NULL) {
        restate__notification_template__free_unpacked(n, NULL);
        return input_error(s, RS_CODE_INTERNAL,
                           "out of memory storing the journal");
    }
    s->notifs = grown;
    s->notifs[s->nnotifs].msg = n;
    s->notifs[s->nnotifs].type = type;
    s->nnotifs++;
    return 0;
}

/* Route one frame; payload ownership passes to the journal or is freed. */
static int on_frame(void *user, uint16_t type, uint16_t flags, uint8_t *payload,
                    uint32_t len)
{
    rs_session *s = user;
    int rc;

    (void)flags;
    if (s->start == NULL) {
        rc = type == RS_MSG_START
                 ? take_start(s, payload, len)
                 : input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                               "first message is %s (0x%04x), expected "
                               "StartMessage",
                               rs_msg_name(type), type);
        free(payload);
        return rc;
    }
    if (s->entries_seen >= s->start->known_entries) {
        free(payload);
        return input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                           "%s (0x%04x) arrived after the %u journal "
                           "entries StartMessage announced",
                           rs_msg_name(type), type, s->start->known_entries);
    }
    s->entries_seen++;
    if (rs_msg_is_command(type))
        return take_command(s, type, payload, len) == 0 ? 0
                                                        : (free(payload), -1);
    if (rs_msg_is_notification(type)) {
        rc = take_notification(s, type, payload, len);
        free(payload);
        return rc;
    }
    free(payload);
    return input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                       "unexpected message %s (0x%04x) in the journal",
                       rs_msg_name(type), type);
}

int rs_session_feed(rs_session *s, const void *data, size_t len)
{
    if (s->input_failed)
        return -1;
    if (s->ran)
        return input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                           "input fed after the attempt ran");
    if (rs_frame_decoder_feed(&s->dec, data, len, on_frame, s) != 0) {
        if (!s->input_failed)
            input_error(s, RS_CODE_PROTOCOL_VIOLATION, "%s", s->dec.error);
        return -1;
    }
    return 0;
}

/* End of input: everything announced must have arrived. */
static void check_eof(rs_session *s)
{
    if (s->input_failed)
        return;
    if (!rs_frame_decoder_idle(&s->dec))
        input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                    "input ended inside a frame (%zu header bytes, %u of %u "
                    "payload bytes)",
                    s->dec.head_have, s->dec.body_have, s->dec.body_len);
    else if (s->start == NULL)
        input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                    "input ended before the StartMessage");
    else if (s->entries_seen < s->start->known_entries)
        input_error(s, RS_CODE_PROTOCOL_VIOLATION,
                    "input ended after %u of %u journal entries",
                    s->entries_seen, s->start->known_entries);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static int sink(rs_session *s, const uint8_t *data, size_t len)
{
    if (s->write != NULL)
        return s->write(s->user, data, len) == 0 ? 0 : -1;
    if (s->resp_len + len > s->resp_cap) {
        size_t cap = s->resp_cap ? s->resp_cap : 256;
        uint8_t *grown;

        while (cap < s->resp_len + len)
            cap *= 2;
        grown = realloc(s->resp, cap);
        if (grown == NULL)
            return -1;
        s->resp = grown;
        s->resp_cap = cap;
    }
    memcpy(s->resp + s->resp_len, data, len);
    s->resp_len += len;
    return 0;
}

int rs_s_emit(rs_session *s, uint16_t type, const ProtobufCMessage *m)
{
    size_t len = 0;
    uint8_t *frame;
    int rc;

    if (s->end == RS_END_IO)
        return -1;
    frame = rs_frame_encode(type, m, &len);
    if (frame == NULL) {
        snprintf(s->error, sizeof(s->error), "cannot encode %s: out of memory",
                 rs_msg_name(type));
        s->end = RS_END_IO;
        return -1;
    }
    rc = sink(s, frame, len);
    free(frame);
    if (rc != 0) {
        snprintf(s->error, sizeof(s->error),
                 "writing %s to the response failed", rs_msg_name(type));
        s->end = RS_END_IO;
    }
    return rc;
}

rs_status rs_s_status(const rs_session *s)
{
    switch (s->end) {
    case RS_END_NONE:
        return RS_OK;
    case RS_END_SUSPENDED:
        return RS_SUSPENDED;
    default:
        return RS_ABORTED;
    }
}

void rs_s_error(rs_session *s, uint32_t code, int related, uint16_t rel_type,
                const char *rel_name, uint64_t delay_ms, const char *fmt, ...)
{
    Restate__ErrorMessage m = RESTATE__ERROR_MESSAGE__INIT;
    va_list ap;

    if (s->end != RS_END_NONE)
        return;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof(s->error), fmt, ap);
    va_end(ap);
    m.code = code;
    m.message = s->error;
    if (related) {
        m.opt_related_command_index_case =
            RESTATE__ERROR_MESSAGE__OPT_RELATED_COMMAND_INDEX_RELATED_COMMAND_INDEX;
        m.related_command_index = s->cmd_index;
        m.opt_related_command_type_case =
            RESTATE__ERROR_MESSAGE__OPT_RELATED_COMMAND_TYPE_RELATED_COMMAND_TYPE;
        m.related_command_type = rel_type;
        if (rel_name != NULL && rel_name[0] != '\0') {
            m.opt_related_command_name_case =
                RESTATE__ERROR_MESSAGE__OPT_RELATED_COMMAND_NAME_RELATED_COMMAND_NAME;
            m.related_command_name = (char *)rel_name;
        }
    }
    if (delay_ms > 0) {
        m.opt_next_retry_delay_case =
            RESTATE__ERROR_MESSAGE__OPT_NEXT_RETRY_DELAY_NEXT_RETRY_DELAY;
        m.next_retry_delay = delay_ms;
    }
    if (code == RS_CODE_JOURNAL_MISMATCH || code == RS_CODE_PROTOCOL_VIOLATION)
        log_warn(TAG, "%s %s/%s: error %u: %s", rs_session_invocation_id(s),
                 s->svc->name, s->h->name, code, s->error);
    else
        log_info(TAG, "%s %s/%s: retryable error %u: %s",
                 rs_session_invocation_id(s), s->svc->name, s->h->name, code,
                 s->error);
    if (rs_s_emit(s, RS_MSG_ERROR, &m.base) == 0)
        s->end = RS_END_ERROR;
}

void rs_s_suspend(rs_session *s, uint32_t cid)
{
    Restate__SuspensionMessage m = RESTATE__SUSPENSION_MESSAGE__INIT;
    uint32_t signal = RS_SIGNAL_CANCEL;

    if (s->end != RS_END_NONE)
        return;
    m.n_waiting_completions = 1;
    m.waiting_completions = &cid;
    m.n_waiting_signals = 1;
    m.waiting_signals = &signal;
    log_debug(TAG, "%s %s/%s: suspended awaiting completion %u",
              rs_session_invocation_id(s), s->svc->name, s->h->name, cid);
    if (rs_s_emit(s, RS_MSG_SUSPENSION, &m.base) == 0)
        s->end = RS_END_SUSPENDED;
}

int rs_s_keep(rs_session *s, void *ptr)
{
    if (s->nkeep == s->cap_keep) {
        size_t cap = s->cap_keep ? s->cap_keep * 2 : 16;
        void **grown = realloc(s->keep, cap * sizeof(*grown));

        if (grown == NULL) {
            free(ptr);
            return -1;
        }
        s->keep = grown;
        s->cap_keep = cap;
    }
    s->keep[s->nkeep++] = ptr;
    return 0;
}

void rs_s_set_failure(rs_session *s, uint32_t code, const char *msg, size_t len)
{
    char *copy = malloc(len + 1);

    free(s->failure_msg);
    s->failure_msg = copy;
    if (copy != NULL) {
        memcpy(copy, msg, len);
        copy[len] = '\0';
    }
    s->failure_code = code ? code : RS_CODE_INTERNAL;
    s->has_failure = 1;
}

/* ------------------------------------------------------------------ */
/* Journal replay                                                      */
/* ------------------------------------------------------------------ */

static int str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int bin_eq(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static int value_eq(const Restate__Value *a, const Restate__Value *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return bin_eq(a->content, b->content);
}

static int failure_eq(const Restate__Failure *a, const Restate__Failure *b)
{
    size_t i;

    if (a == NULL || b == NULL)
        return a == b;
    if (a->code != b->code || !str_eq(a->message, b->message) ||
        a->n_metadata != b->n_metadata)
        return 0;
    for (i = 0; i < a->n_metadata; i++)
        if (!str_eq(a->metadata[i]->key, b->metadata[i]->key) ||
            !str_eq(a->metadata[i]->value, b->metadata[i]->value))
            return 0;
    return 1;
}

static int headers_eq(size_t na, Restate__Header **a, size_t nb,
                      Restate__Header **b)
{
    size_t i;

    if (na != nb)
        return 0;
    for (i = 0; i < na; i++)
        if (!str_eq(a[i]->key, b[i]->key) || !str_eq(a[i]->value, b[i]->value))
            return 0;
    return 1;
}

/* Field-by-field equality of a recorded and an expected command, with
 * the fields the protocol compares for that type.  Returns the name of
 * the first differing field, or NULL when equal. */
static const char *output_diff(const ProtobufCMessage *rm,
                               const ProtobufCMessage *em)
{
    const Restate__OutputCommandMessage *r = (const void *)rm;
    const Restate__OutputCommandMessage *e = (const void *)em;

    if (r->result_case != e->result_case)
        return "result kind";
    if (r->result_case == RESTATE__OUTPUT_COMMAND_MESSAGE__RESULT_VALUE &&
        !value_eq(r->value, e->value))
        return "value";
    if (r->result_case == RESTATE__OUTPUT_COMMAND_MESSAGE__RESULT_FAILURE &&
        !failure_eq(r->failure, e->failure))
        return "failure";
    return str_eq(r->name, e->name) ? NULL : "name";
}

static const char *set_state_diff(const ProtobufCMessage *rm,
                                  const ProtobufCMessage *em)
{
    const Restate__SetStateCommandMessage *r = (const void *)rm;
    const Restate__SetStateCommandMessage *e = (const void *)em;

    if (!bin_eq(r->key, e->key))
        return "key";
    if (!value_eq(r->value, e->value))
        return "value";
    return str_eq(r->name, e->name) ? NULL : "name";
}

static const char *clear_state_diff(const ProtobufCMessage *rm,
                                    const ProtobufCMessage *em)
{
    const Restate__ClearStateCommandMessage *r = (const void *)rm;
    const Restate__ClearStateCommandMessage *e = (const void *)em;

    if (!bin_eq(r->key, e->key))
        return "key";
    return str_eq(r->name, e->name) ? NULL : "name";
}

static const char *clear_all_diff(const ProtobufCMessage *rm,
                                  const ProtobufCMessage *em)
{
    const Restate__ClearAllStateCommandMessage *r = (const void *)rm;
    const Restate__ClearAllStateCommandMessage *e = (const void *)em;

    return str_eq(r->name, e->name) ? NULL : "name";
}

static const char *lazy_state_diff(const ProtobufCMessage *rm,
                                   const ProtobufCMessage *em)
{
    const Restate__GetLazyStateCommandMessage *r = (const void *)rm;
    const Restate__GetLazyStateCommandMessage *e = (const void *)em;

    if (!bin_eq(r->key, e->key))
        return "key";
    if (r->result_completion_id != e->result_completion_id)
        return "result_completion_id";
    return str_eq(r->name, e->name) ? NULL : "name";
}

static const char *eager_state_diff(const ProtobufCMessage *rm,
                                    const ProtobufCMessage *em)
{
    const Restate__GetEagerStateCommandMessage *r = (const void *)rm;
    const Restate__GetEagerStateCommandMessage *e = (const void *)em;

    return bin_eq(r->key, e->key) ? NULL : "key";
}

/* The fields CallCommand and OneWayCallCommand share, read from either. */
struct call_view {
    const char *service_name;
    const char *handler_name;
    ProtobufCBinaryData parameter;
    size_t n_headers;
    Restate__Header **headers;
    const char *key;
    int has_idempotency_key;
    const char *idempotency_key;
    uint32_t invocation_id_notification_idx;
};

#define CALL_VIEW(m)                                                           \
    ((struct call_view){                                                       \
        (m)->service_name, (m)->handler_name, (m)->parameter, (m)->n_headers,  \
        (m)->headers, (m)->key, (m)->opt_idempotency_key_case != 0,            \
        (m)->idempotency_key, (m)->invocation_id_notification_idx})

/* First differing call field in protocol order (name and the completion id
 * excepted: the callers check those), or NULL. */
static const char *call_view_diff(struct call_view r, struct call_view e)
{
    if (!str_eq(r.service_name, e.service_name))
        return "service_name";
    if (!str_eq(r.handler_name, e.handler_name))
        return "handler_name";
    if (!bin_eq(r.parameter, e.parameter))
        return "parameter";
    if (!headers_eq(r.n_headers, r.headers, e.n_headers, e.headers))
        return "headers";
    if (!str_eq(r.key, e.key))
        return "key";
    if (r.has_idempotency_key != e.has_idempotency_key ||
        (r.has_idempotency_key &&
         !str_eq(r.idempotency_key, e.idempotency_key)))
        return "idempotency_key";
    if (r.invocation_id_notification_idx != e.invocation_id_notification_idx)
        return "invocation_id_notification_idx";
    return NULL;
}

static const char *call_diff(const ProtobufCMessage *rm,
                             const ProtobufCMessage *em)
{
    const Restate__CallCommandMessage *r = (const void *)rm;
    const Restate__CallCommandMessage *e = (const void *)em;
    const char *field = call_view_diff(CALL_VIEW(r), CALL_VIEW(e));

    if (field != NULL)
        return field;
    if (r->result_completion_id != e->result_completion_id)
        return "result_completion_id";
    return str_eq(r->name, e->name) ? NULL : "name";
}

static const char *send_diff(const ProtobufCMessage *rm,
                             const ProtobufCMessage *em)
{
    const Restate__OneWayCallCommandMessage *r = (const void *)rm;
    const Restate__OneWayCallCommandMessage *e = (const void *)em;
    const char *field = call_view_diff(CALL_VIEW(r), CALL_VIEW(e));

    if (field != NULL)
        return field;
    return str_eq(r->name, e->name) ? NULL : "name";
}

static const char *run_diff(const ProtobufCMessage *rm,
                            const ProtobufCMessage *em)
{
    const Restate__RunCommandMessage *r = (const void *)rm;
    const Restate__RunCommandMessage *e = (const void *)em;

    if (r->result_completion_id != e->result_completion_id)
        return "result_completion_id";
    return str_eq(r->name, e->name) ? NULL : "name";
}

typedef const char *(*diff_fn)(const ProtobufCMessage *,
                               const ProtobufCMessage *);

static diff_fn diff_for(uint16_t type)
{
    switch (type) {
    case RS_MSG_OUTPUT:
        return output_diff;
    case RS_MSG_SET_STATE:
        return set_state_diff;
    case RS_MSG_CLEAR_STATE:
        return clear_state_diff;
    case RS_MSG_CLEAR_ALL_STATE:
        return clear_all_diff;
    case RS_MSG_GET_LAZY_STATE:
        return lazy_state_diff;
    case RS_MSG_GET_EAGER_STATE:
        return eager_state_diff;
    case RS_MSG_CALL:
        return call_diff;
    case RS_MSG_ONE_WAY_CALL:
        return send_diff;
    case RS_MSG_RUN:
        return run_diff;
    }
    return NULL;
}

/* Compare the next recorded command with the expected one and pop it. */
static rs_status replay_one(rs_session *s, uint16_t type,
                            const ProtobufCMessage *expected, const char *name,
                            ProtobufCMessage **recorded)
{
    const struct rs_cmd *c = &s->cmds[s->replay_pos];
    ProtobufCMessage *r;
    diff_fn diff = diff_for(type);
    const char *field;

    if (c->type != type || diff == NULL) {
        rs_s_error(s, RS_CODE_JOURNAL_MISMATCH, 1, type, name, 0,
                   "journal mismatch at command %u: the journal has %s "
                   "(0x%04x), the handler now makes %s (0x%04x)",
                   s->cmd_index, rs_msg_name(c->type), c->type,
                   rs_msg_name(type), type);
        return RS_ABORTED;
    }
    r = protobuf_c_message_unpack(expected->descriptor, NULL, c->len,
                                  c->payload);
    if (r == NULL) {
        rs_s_error(s, RS_CODE_PROTOCOL_VIOLATION, 1, type, name, 0,
                   "journal command %u (%s) does not decode", s->cmd_index,
                   rs_msg_name(type));
        return RS_ABORTED;
    }
    field = diff(r, expected);
    if (field != NULL) {
        protobuf_c_message_free_unpacked(r, NULL);
        rs_s_error(s, RS_CODE_JOURNAL_MISMATCH, 1, type, name, 0,
                   "journal mismatch at command %u (%s '%s'): field %s "
                   "differs from the journal",
                   s->cmd_index, rs_msg_name(type), name ? name : "", field);
        return RS_ABORTED;
    }
    if (recorded != NULL)
        *recorded = r;
    else
        protobuf_c_message_free_unpacked(r, NULL);
    s->replay_pos++;
    s->cmd_index++;
    return RS_OK;
}

rs_status rs_s_journal(rs_session *s, uint16_t type,
                       const ProtobufCMessage *expected, const char *name,
                       ProtobufCMessage **recorded)
{
    if (recorded != NULL)
        *recorded = NULL;
    if (s->end != RS_END_NONE)
        return rs_s_status(s);
    if (s->replay_pos < s->ncmds)
        return replay_one(s, type, expected, name, recorded);
    if (rs_s_emit(s, type, expected) != 0)
        return RS_ABORTED;
    s->cmd_index++;
    return RS_OK;
}

/* ------------------------------------------------------------------ */
/* Awaiting                                                            */
/* ------------------------------------------------------------------ */

const Restate__NotificationTemplate *rs_s_find(const rs_session *s,
                                               uint32_t cid, size_t *pos)
{
    size_t i;

    for (i = 0; i < s->nnotifs; i++) {
        const Restate__NotificationTemplate *n = s->notifs[i].msg;

        if (n->id_case == RESTATE__NOTIFICATION_TEMPLATE__ID_COMPLETION_ID &&
            n->completion_id == cid) {
            *pos = i;
            return n;
        }
    }
    return NULL;
}

/* Position of the first CANCEL signal, or SIZE_MAX. */
static size_t find_cancel(const rs_session *s)
{
    size_t i;

    for (i = 0; i < s->nnotifs; i++) {
        const Restate__NotificationTemplate *n = s->notifs[i].msg;

        if (n->id_case == RESTATE__NOTIFICATION_TEMPLATE__ID_SIGNAL_ID &&
            n->signal_id == RS_SIGNAL_CANCEL)
            return i;
    }
    return SIZE_MAX;
}

int rs_s_cancel_pending(const rs_session *s)
{
    return find_cancel(s) != SIZE_MAX;
}

static rs_status cancelled(rs_session *s)
{
    static const char msg[] = "cancelled";

    rs_s_set_failure(s, RS_CODE_CANCELLED, msg, sizeof(msg) - 1);
    return RS_TERMINAL;
}

rs_status rs_s_await(rs_session *s, uint32_t cid,
                     const Restate__NotificationTemplate **out)
{
    size_t pos = SIZE_MAX;
    const Restate__NotificationTemplate *n = rs_s_find(s, cid, &pos);
    size_t cancel = find_cancel(s);

    *out = NULL;
    if (s->end != RS_END_NONE)
        return rs_s_status(s);
    if (n != NULL && pos < cancel) {
        *out = n;
        return RS_OK;
    }
    if (cancel != SIZE_MAX)
        return cancelled(s);
    if (s->replay_pos < s->ncmds) {
        rs_s_error(s, RS_CODE_JOURNAL_MISMATCH, 0, 0, NULL, 0,
                   "journal mismatch: the handler awaits completion %u, "
                   "which the journal lacks, while %zu recorded commands "
                   "are still to be replayed",
                   cid, s->ncmds - s->replay_pos);
        return RS_ABORTED;
    }
    rs_s_suspend(s, cid);
    return rs_s_status(s);
}

/* ------------------------------------------------------------------ */
/* Running the handler                                                 */
/* ------------------------------------------------------------------ */

static int load_state(rs_session *s)
{
    size_t i, n = s->start->n_state_map;

    s->state_complete = !s->start->partial_state;
    if (n == 0)
        return 0;
    s->state = calloc(n, sizeof(*s->state));
    if (s->state == NULL)
        return -1;
    s->cap_state = n;
    for (i = 0; i < n; i++) {
        const Restate__StartMessage__StateEntry *e = s->start->state_map[i];
        struct rs_state_entry *d = &s->state[s->nstate];

        d->key = malloc(e->key.len + 1);
        if (d->key == NULL)
            return -1;
        if (e->key.len)
            memcpy(d->key, e->key.data, e->key.len);
        d->key_len = e->key.len;
        d->value = e->value.data;
        d->value_len = e->value.len;
        d->present = 1;
        s->nstate++;
    }
    return 0;
}

/* Output (value or failure) then End. */
static void complete(rs_session *s, int failed)
{
    Restate__OutputCommandMessage m = RESTATE__OUTPUT_COMMAND_MESSAGE__INIT;
    Restate__EndMessage end = RESTATE__END_MESSAGE__INIT;
    Restate__Value value = RESTATE__VALUE__INIT;
    Restate__Failure failure = RESTATE__FAILURE__INIT;

    if (failed) {
        failure.code = s->failure_code;
        failure.message = s->failure_msg ? s->failure_msg : "";
        m.result_case = RESTATE__OUTPUT_COMMAND_MESSAGE__RESULT_FAILURE;
        m.failure = &failure;
    }
    else {
        value.content.data = s->result;
        value.content.len = s->result_len;
        m.result_case = RESTATE__OUTPUT_COMMAND_MESSAGE__RESULT_VALUE;
        m.value = &value;
    }
    if (rs_s_journal(s, RS_MSG_OUTPUT, &m.base, "", NULL) != RS_OK)
        return;
    if (s->replay_pos < s->ncmds) {
        rs_s_error(s, RS_CODE_JOURNAL_MISMATCH, 0, 0, NULL, 0,
                   "journal mismatch: the handler finished but the journal "
                   "holds %zu more commands",
                   s->ncmds - s->replay_pos);
        return;
    }
    if (rs_s_emit(s, RS_MSG_END, &end.base) == 0)
        s->end = failed ? RS_END_FAILED : RS_END_COMPLETED;
}

/* Turn the handler's return value into the attempt's last messages. */
static void finish(rs_session *s, int rc)
{
    if (s->end != RS_END_NONE) {
        if (rc != (int)rs_s_status(s))
            log_warn(TAG,
                     "%s %s/%s: handler returned %d after the attempt "
                     "ended with status %d",
                     rs_session_invocation_id(s), s->svc->name, s->h->name, rc,
                     (int)rs_s_status(s));
        return;
    }
    switch (rc) {
    case RS_OK:
        complete(s, 0);
        break;
    case RS_TERMINAL:
        if (!s->has_failure) {
            static const char msg[] = "handler failed without a message";

            rs_s_set_failure(s, RS_CODE_INTERNAL, msg, sizeof(msg) - 1);
        }
        complete(s, 1);
        break;
    case RS_RETRY:
        rs_s_error(s, RS_CODE_INTERNAL, 0, 0, NULL, s->retry_after_ms, "%s",
                   s->retry_msg ? s->retry_msg : "handler asked for a retry");
        break;
    default:
        rs_s_error(s, RS_CODE_INTERNAL, 0, 0, NULL, 0,
                   "handler %s/%s returned status %d without a pending "
                   "await or failure",
                   s->svc->name, s->h->name, rc);
        break;
    }
}

static rs_outcome outcome(const rs_session *s)
{
    switch (s->end) {
    case RS_END_COMPLETED:
        return RS_OUTCOME_COMPLETED;
    case RS_END_FAILED:
        return RS_OUTCOME_FAILED;
    case RS_END_SUSPENDED:
        return RS_OUTCOME_SUSPENDED;
    case RS_END_ERROR:
        return RS_OUTCOME_ERROR;
    default:
        return RS_OUTCOME_IO;
    }
}

int rs_session_refuse_oversized(rs_session *s, size_t limit)
{
    if (s->start == NULL)
        return -1;
    s->oversized_limit = limit;
    return 0;
}

/* Complete an invocation whose input was too large: it never will fit. */
static void refuse_oversized(rs_session *s)
{
    char msg[160];
    int n;

    n = snprintf(msg, sizeof(msg),
                 "invocation input exceeds the endpoint's limit of %zu bytes",
                 s->oversized_limit);
    rs_s_set_failure(s, RS_CODE_TOO_LARGE, msg,
                     n > 0 && (size_t)n < sizeof(msg) ? (size_t)n
                                                      : sizeof(msg) - 1);
    complete(s, 1);
}

rs_outcome rs_session_run(rs_session *s, rs_write_fn write, void *user)
{
    int rc;

    if (s->ran)
        return outcome(s);
    s->ran = 1;
    s->write = write;
    s->user = user;
    if (s->oversized_limit > 0) {
        refuse_oversized(s);
        return outcome(s);
    }
    check_eof(s);
    if (s->input_failed) {
        char why[sizeof(s->error)];

        snprintf(why, sizeof(why), "%s", s->error);
        rs_s_error(s, s->input_code, 0, 0, NULL, 0, "%s", why);
        return outcome(s);
    }
    if (load_state(s) != 0) {
        rs_s_error(s, RS_CODE_INTERNAL, 0, 0, NULL, 0,
                   "out of memory loading %zu state entries",
                   s->start->n_state_map);
        return outcome(s);
    }
    s->replay_pos = 1; /* the input command */
    s->cmd_index = 1;
    s->next_cid = 1;
    rc = s->h->fn(&s->ctx, s->h->arg);
    finish(s, rc);
    return outcome(s);
}
