/*
 * tutil.c - helpers shared by the restate unit tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tutil.h"

uint8_t *tu_read_vector(const char *rel, size_t *len)
{
    char path[1024];
    uint8_t *buf = NULL;
    long size = -1;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", RS_VECTOR_DIR, rel);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open vector %s", path);
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0)
        fail_msg("cannot size vector %s", path);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    if (fread(buf, 1, (size_t)size, f) != (size_t)size)
        fail_msg("short read on %s", path);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

int tu_split(const uint8_t *buf, size_t len, tu_frame *out, int max)
{
    size_t pos = 0;
    int n = 0;

    while (pos < len) {
        uint32_t flen;

        if (len - pos < 8 || n == max)
            return -1;
        flen = (uint32_t)buf[pos + 4] << 24 | (uint32_t)buf[pos + 5] << 16 |
               (uint32_t)buf[pos + 6] << 8 | buf[pos + 7];
        if (len - pos - 8 < flen)
            return -1;
        out[n].type = (uint16_t)(buf[pos] << 8 | buf[pos + 1]);
        out[n].flags = (uint16_t)(buf[pos + 2] << 8 | buf[pos + 3]);
        out[n].payload = buf + pos + 8;
        out[n].len = flen;
        n++;
        pos += 8 + flen;
    }
    return n;
}

void tu_append(tu_buf *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;

        while (cap < b->len + len)
            cap *= 2;
        b->data = realloc(b->data, cap);
        assert_non_null(b->data);
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void tu_append_msg(tu_buf *b, uint16_t type, const ProtobufCMessage *m)
{
    size_t len = 0;
    uint8_t *frame = rs_frame_encode(type, m, &len);

    assert_non_null(frame);
    tu_append(b, frame, len);
    free(frame);
}

static ProtobufCBinaryData bin_of(const char *s)
{
    ProtobufCBinaryData b = {strlen(s), (uint8_t *)s};

    return b;
}

void tu_start(tu_buf *b, uint32_t known, const char *key, int partial,
              uint32_t retry_count)
{
    Restate__StartMessage m = RESTATE__START_MESSAGE__INIT;
    static const uint8_t id[] = {1, 2, 3, 4, 5, 6, 7, 8};

    m.id.data = (uint8_t *)id;
    m.id.len = sizeof(id);
    m.debug_id = "inv_1unittest";
    m.known_entries = known;
    m.partial_state = partial;
    m.key = (char *)(key ? key : "");
    m.retry_count_since_last_stored_entry = retry_count;
    m.random_seed = 42;
    tu_append_msg(b, RS_MSG_START, &m.base);
}

void tu_start_state(tu_buf *b, uint32_t known, const char *key,
                    const char *skey, const char *svalue)
{
    Restate__StartMessage m = RESTATE__START_MESSAGE__INIT;
    Restate__StartMessage__StateEntry e =
        RESTATE__START_MESSAGE__STATE_ENTRY__INIT;
    Restate__StartMessage__StateEntry *entries[1] = {&e};

    m.debug_id = "inv_1unittest";
    m.known_entries = known;
    m.key = (char *)key;
    e.key = bin_of(skey);
    e.value = bin_of(svalue);
    m.n_state_map = 1;
    m.state_map = entries;
    tu_append_msg(b, RS_MSG_START, &m.base);
}

void tu_input(tu_buf *b, const char *json)
{
    Restate__InputCommandMessage m = RESTATE__INPUT_COMMAND_MESSAGE__INIT;
    Restate__Value v = RESTATE__VALUE__INIT;

    v.content = bin_of(json);
    m.value = &v;
    tu_append_msg(b, RS_MSG_INPUT, &m.base);
}

void tu_run_cmd(tu_buf *b, uint32_t cid, const char *name)
{
    Restate__RunCommandMessage m = RESTATE__RUN_COMMAND_MESSAGE__INIT;

    m.result_completion_id = cid;
    m.name = (char *)name;
    tu_append_msg(b, RS_MSG_RUN, &m.base);
}

void tu_notif_value(tu_buf *b, uint16_t type, uint32_t cid, const char *value)
{
    Restate__NotificationTemplate m = RESTATE__NOTIFICATION_TEMPLATE__INIT;
    Restate__Value v = RESTATE__VALUE__INIT;

    m.id_case = RESTATE__NOTIFICATION_TEMPLATE__ID_COMPLETION_ID;
    m.completion_id = cid;
    v.content = bin_of(value);
    m.result_case = RESTATE__NOTIFICATION_TEMPLATE__RESULT_VALUE;
    m.value = &v;
    tu_append_msg(b, type, &m.base);
}

void tu_notif_failure(tu_buf *b, uint16_t type, uint32_t cid, uint32_t code,
                      const char *message)
{
    Restate__NotificationTemplate m = RESTATE__NOTIFICATION_TEMPLATE__INIT;
    Restate__Failure f = RESTATE__FAILURE__INIT;

    m.id_case = RESTATE__NOTIFICATION_TEMPLATE__ID_COMPLETION_ID;
    m.completion_id = cid;
    f.code = code;
    f.message = (char *)message;
    m.result_case = RESTATE__NOTIFICATION_TEMPLATE__RESULT_FAILURE;
    m.failure = &f;
    tu_append_msg(b, type, &m.base);
}

void tu_notif_invocation_id(tu_buf *b, uint32_t cid, const char *id)
{
    Restate__NotificationTemplate m = RESTATE__NOTIFICATION_TEMPLATE__INIT;

    m.id_case = RESTATE__NOTIFICATION_TEMPLATE__ID_COMPLETION_ID;
    m.completion_id = cid;
    m.result_case = RESTATE__NOTIFICATION_TEMPLATE__RESULT_INVOCATION_ID;
    m.invocation_id = (char *)id;
    tu_append_msg(b, RS_MSG_CALL_INVOCATION_ID, &m.base);
}

void tu_signal_cancel(tu_buf *b)
{
    Restate__NotificationTemplate m = RESTATE__NOTIFICATION_TEMPLATE__INIT;
    Restate__Void v = RESTATE__VOID__INIT;

    m.id_case = RESTATE__NOTIFICATION_TEMPLATE__ID_SIGNAL_ID;
    m.signal_id = RS_SIGNAL_CANCEL;
    m.result_case = RESTATE__NOTIFICATION_TEMPLATE__RESULT_VOID_VALUE;
    m.void_value = &v;
    tu_append_msg(b, RS_MSG_SIGNAL, &m.base);
}

void tu_call_cmd(tu_buf *b, const char *svc, const char *handler,
                 const char *key, const char *param, uint32_t id_idx,
                 uint32_t result_idx)
{
    Restate__CallCommandMessage m = RESTATE__CALL_COMMAND_MESSAGE__INIT;

    m.service_name = (char *)svc;
    m.handler_name = (char *)handler;
    m.key = (char *)(key ? key : "");
    m.parameter = bin_of(param);
    m.invocation_id_notification_idx = id_idx;
    m.result_completion_id = result_idx;
    tu_append_msg(b, RS_MSG_CALL, &m.base);
}

void tu_set_state_cmd(tu_buf *b, const char *key, const char *value)
{
    Restate__SetStateCommandMessage m =
        RESTATE__SET_STATE_COMMAND_MESSAGE__INIT;
    Restate__Value v = RESTATE__VALUE__INIT;

    m.key = bin_of(key);
    v.content = bin_of(value);
    m.value = &v;
    tu_append_msg(b, RS_MSG_SET_STATE, &m.base);
}

uint8_t *tu_attempt(const rs_registry *reg, const char *svc,
                    const char *handler, const uint8_t *body, size_t len,
                    size_t chunk, const rs_session_config *cfg,
                    rs_outcome *outcome, size_t *out_len)
{
    rs_session *s = rs_session_new(reg, svc, handler, 6, cfg);
    size_t pos = 0;
    uint8_t *copy;
    rs_bytes out;

    assert_non_null(s);
    if (chunk == 0)
        chunk = len ? len : 1;
    while (pos < len) {
        size_t n = len - pos < chunk ? len - pos : chunk;

        if (rs_session_feed(s, body + pos, n) != 0)
            break;
        pos += n;
    }
    *outcome = rs_session_run(s, NULL, NULL);
    out = rs_session_output(s);
    copy = malloc(out.len + 1);
    assert_non_null(copy);
    if (out.len)
        memcpy(copy, out.data, out.len);
    *out_len = out.len;
    rs_session_free(s);
    return copy;
}
