/*
 * test_codec.c - frames and messages against real captured bytes: every
 * frame of every vector decodes with this library's codec and re-encodes
 * to the identical bytes; the incremental decoder copes with any chunking
 * and enforces its size limit.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tutil.h"

#define MAX_FRAMES 256

typedef void (*vector_fn)(const char *rel, const uint8_t *buf, size_t len,
                          void *arg);

/* Call fn for every .bin vector; returns how many there were. */
static int each_vector(vector_fn fn, void *arg)
{
    static const char *const dirs[] = {"1-stage", "2-wf", "3-api-submit",
                                       "4-flaky", "5-bad"};
    char path[1024], rel[512];
    int count = 0;
    size_t i;

    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        struct dirent *e;
        DIR *d;

        snprintf(path, sizeof(path), "%s/%s", RS_VECTOR_DIR, dirs[i]);
        d = opendir(path);
        assert_non_null(d);
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name), len;
            uint8_t *buf;

            if (n < 4 || strcmp(e->d_name + n - 4, ".bin") != 0)
                continue;
            snprintf(rel, sizeof(rel), "%s/%s", dirs[i], e->d_name);
            buf = tu_read_vector(rel, &len);
            fn(rel, buf, len, arg);
            free(buf);
            count++;
        }
        closedir(d);
    }
    return count;
}

struct rt_stats {
    int frames;
    int types[8];
    int ntypes;
};

static void note_type(struct rt_stats *st, uint16_t type)
{
    int i;

    for (i = 0; i < st->ntypes; i++)
        if (st->types[i] == type)
            return;
    if (st->ntypes < 8)
        st->types[st->ntypes++] = type;
}

static void round_trip(const char *rel, const uint8_t *buf, size_t len,
                       void *arg)
{
    struct rt_stats *st = arg;
    tu_frame frames[MAX_FRAMES];
    int n = tu_split(buf, len, frames, MAX_FRAMES), i;

    if (n < 0)
        fail_msg("%s: does not split into frames", rel);
    for (i = 0; i < n; i++) {
        const ProtobufCMessageDescriptor *d = rs_msg_descriptor(frames[i].type);
        ProtobufCMessage *m;
        uint8_t *again;
        size_t again_len = 0;

        if (d == NULL)
            fail_msg("%s frame %d: no codec for type 0x%04x", rel, i,
                     frames[i].type);
        assert_int_equal(frames[i].flags, 0);
        m = protobuf_c_message_unpack(d, NULL, frames[i].len,
                                      frames[i].payload);
        if (m == NULL)
            fail_msg("%s frame %d (%s) does not decode", rel, i,
                     rs_msg_name(frames[i].type));
        again = rs_frame_encode(frames[i].type, m, &again_len);
        assert_non_null(again);
        if (again_len != frames[i].len + 8 ||
            memcmp(again + 8, frames[i].payload, frames[i].len) != 0 ||
            memcmp(again, frames[i].payload - 8, 8) != 0)
            fail_msg("%s frame %d (%s): re-encoding differs (%zu vs %u "
                     "bytes)",
                     rel, i, rs_msg_name(frames[i].type), again_len,
                     frames[i].len + 8);
        free(again);
        protobuf_c_message_free_unpacked(m, NULL);
        note_type(st, frames[i].type);
        st->frames++;
    }
}

static void test_every_captured_frame_round_trips(void **state)
{
    struct rt_stats st;
    int files;

    (void)state;
    memset(&st, 0, sizeof(st));
    files = each_vector(round_trip, &st);
    /* 1-stage 6, 2-wf 30, 3-api-submit 34, 4-flaky 8, 5-bad 2 */
    assert_int_equal(files, 80);
    assert_true(st.frames > 200);
    print_message("round-tripped %d frames from %d files\n", st.frames, files);
}

/* Every message kind the captures hold decodes to the expected fields. */
static void test_decoded_fields(void **state)
{
    size_t len;
    uint8_t *buf = tu_read_vector("4-flaky/02-flaky-go.request.bin", &len);
    tu_frame f[8];
    Restate__StartMessage *start;
    Restate__RunCommandMessage *run;

    (void)state;
    assert_int_equal(tu_split(buf, len, f, 8), 3);
    start = restate__start_message__unpack(NULL, f[0].len, f[0].payload);
    assert_non_null(start);
    assert_int_equal(start->known_entries, 2);
    assert_int_equal(start->retry_count_since_last_stored_entry, 1);
    assert_int_equal(start->duration_since_last_stored_entry, 622);
    assert_true(start->partial_state);
    assert_int_equal(start->id.len, 24);
    assert_string_equal(start->debug_id,
                        "inv_1gAwif94rrFH00Dx5Kn24xPyfMhzQmNzXO");
    restate__start_message__free_unpacked(start, NULL);
    assert_int_equal(f[2].type, RS_MSG_RUN);
    run = restate__run_command_message__unpack(NULL, f[2].len, f[2].payload);
    assert_non_null(run);
    assert_int_equal(run->result_completion_id, 1);
    assert_string_equal(run->name, "call-external");
    restate__run_command_message__free_unpacked(run, NULL);
    free(buf);
}

/* Empty Value vs Void vs absent stay distinct through a round trip. */
static void test_void_and_empty_value(void **state)
{
    Restate__GetEagerStateCommandMessage m =
        RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__INIT;
    Restate__Void v = RESTATE__VOID__INIT;
    Restate__Value empty = RESTATE__VALUE__INIT;
    Restate__GetEagerStateCommandMessage *back;
    uint8_t out[32];
    size_t n;

    (void)state;
    m.result_case = RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__RESULT_VOID_VALUE;
    m.void_value = &v;
    n = protobuf_c_message_pack(&m.base, out);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0x6a); /* field 13, wire type 2 */
    assert_int_equal(out[1], 0x00);
    m.result_case = RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__RESULT_VALUE;
    m.value = &empty;
    n = protobuf_c_message_pack(&m.base, out);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0x72); /* field 14 */
    back = restate__get_eager_state_command_message__unpack(NULL, n, out);
    assert_non_null(back);
    assert_int_equal(back->result_case,
                     RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__RESULT_VALUE);
    assert_int_equal(back->value->content.len, 0);
    restate__get_eager_state_command_message__free_unpacked(back, NULL);
}

/* Unknown fields (a newer server's) are skipped by the decoder. */
static void test_unknown_fields_skipped(void **state)
{
    /* RunCommand: field 11 = 7, unknown field 20 varint, unknown field 21
     * bytes "ab", field 12 = "x". */
    static const uint8_t payload[] = {0x58, 0x07, 0xa0, 0x01, 0x05, 0xaa, 0x01,
                                      0x02, 'a',  'b',  0x62, 0x01, 'x'};
    Restate__RunCommandMessage *m;

    (void)state;
    m = restate__run_command_message__unpack(NULL, sizeof(payload), payload);
    assert_non_null(m);
    assert_int_equal(m->result_completion_id, 7);
    assert_string_equal(m->name, "x");
    restate__run_command_message__free_unpacked(m, NULL);
}

struct collected {
    int count;
    uint16_t types[MAX_FRAMES];
    uint32_t lens[MAX_FRAMES];
};

static int collect(void *user, uint16_t type, uint16_t flags, uint8_t *payload,
                   uint32_t len)
{
    struct collected *c = user;

    (void)flags;
    free(payload);
    if (c->count == MAX_FRAMES)
        return -1;
    c->types[c->count] = type;
    c->lens[c->count] = len;
    c->count++;
    return 0;
}

/* The same frames come out whatever the chunk size. */
static void test_decoder_any_chunking(void **state)
{
    size_t len, chunk;
    uint8_t *buf = tu_read_vector("2-wf/14-wf-run.request.bin", &len);
    tu_frame f[MAX_FRAMES];
    int n = tu_split(buf, len, f, MAX_FRAMES), i;

    (void)state;
    assert_true(n > 10);
    for (chunk = 1; chunk <= 97; chunk += 8) {
        struct collected c;
        rs_frame_decoder d;
        size_t pos;

        memset(&c, 0, sizeof(c));
        rs_frame_decoder_init(&d, 1u << 20);
        for (pos = 0; pos < len; pos += chunk) {
            size_t take = len - pos < chunk ? len - pos : chunk;

            assert_int_equal(
                rs_frame_decoder_feed(&d, buf + pos, take, collect, &c), 0);
        }
        assert_true(rs_frame_decoder_idle(&d));
        assert_int_equal(c.count, n);
        for (i = 0; i < n; i++) {
            assert_int_equal(c.types[i], f[i].type);
            assert_int_equal(c.lens[i], f[i].len);
        }
        rs_frame_decoder_free(&d);
    }
    free(buf);
}

static void test_decoder_limit_and_partial(void **state)
{
    uint8_t frame[8 + 16];
    struct collected c;
    rs_frame_decoder d;

    (void)state;
    memset(frame, 0, sizeof(frame));
    memset(&c, 0, sizeof(c));
    rs_frame_header_put(frame, RS_MSG_RUN, 0, 16);
    rs_frame_decoder_init(&d, 15);
    assert_int_equal(
        rs_frame_decoder_feed(&d, frame, sizeof(frame), collect, &c), -1);
    assert_non_null(strstr(d.error, "over the limit"));
    assert_int_equal(c.count, 0);
    rs_frame_decoder_free(&d);

    rs_frame_decoder_init(&d, 16);
    assert_int_equal(rs_frame_decoder_feed(&d, frame, 12, collect, &c), 0);
    assert_false(rs_frame_decoder_idle(&d));
    assert_int_equal(rs_frame_decoder_feed(&d, frame + 12, 12, collect, &c), 0);
    assert_true(rs_frame_decoder_idle(&d));
    assert_int_equal(c.count, 1);
    rs_frame_decoder_free(&d);

    /* a zero-length frame (End) is delivered as soon as its header is */
    rs_frame_header_put(frame, RS_MSG_END, 0, 0);
    rs_frame_decoder_init(&d, 16);
    assert_int_equal(rs_frame_decoder_feed(&d, frame, 8, collect, &c), 0);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.types[1], RS_MSG_END);
    rs_frame_decoder_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_captured_frame_round_trips),
        cmocka_unit_test(test_decoded_fields),
        cmocka_unit_test(test_void_and_empty_value),
        cmocka_unit_test(test_unknown_fields_skipped),
        cmocka_unit_test(test_decoder_any_chunking),
        cmocka_unit_test(test_decoder_limit_and_partial),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
