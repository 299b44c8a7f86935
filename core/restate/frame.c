/*
 * frame.c - incremental decoder and encoder of protocol frames.
 *
 * A frame is an 8-byte big-endian header (type u16, flags u16, payload
 * length u32) followed by the protobuf payload.  The decoder accepts the
 * input in arbitrary pieces and hands out whole frames.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restate/internal.h"

void rs_frame_header_put(uint8_t out[8], uint16_t type, uint16_t flags,
                         uint32_t len)
{
    out[0] = (uint8_t)(type >> 8);
    out[1] = (uint8_t)type;
    out[2] = (uint8_t)(flags >> 8);
    out[3] = (uint8_t)flags;
    out[4] = (uint8_t)(len >> 24);
    out[5] = (uint8_t)(len >> 16);
    out[6] = (uint8_t)(len >> 8);
    out[7] = (uint8_t)len;
}

void rs_frame_decoder_init(rs_frame_decoder *d, uint32_t limit)
{
    memset(d, 0, sizeof(*d));
    d->limit = limit;
}

int rs_frame_decoder_idle(const rs_frame_decoder *d)
{
    return d->head_have == 0 && d->body == NULL;
}

void rs_frame_decoder_free(rs_frame_decoder *d)
{
    free(d->body);
    d->body = NULL;
    d->head_have = 0;
}

/* The header is complete: check the length and allocate the body. */
static int start_body(rs_frame_decoder *d)
{
    const uint8_t *h = d->head;

    d->type = (uint16_t)(h[0] << 8 | h[1]);
    d->flags = (uint16_t)(h[2] << 8 | h[3]);
    d->body_len = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 |
                  (uint32_t)h[6] << 8 | (uint32_t)h[7];
    if (d->body_len > d->limit) {
        snprintf(d->error, sizeof(d->error),
                 "frame of type 0x%04x announces %u payload bytes, over "
                 "the limit of %u",
                 d->type, d->body_len, d->limit);
        return -1;
    }
    d->body = malloc(d->body_len ? d->body_len : 1);
    if (d->body == NULL) {
        snprintf(d->error, sizeof(d->error),
                 "out of memory for a %u-byte frame", d->body_len);
        return -1;
    }
    d->body_have = 0;
    return 0;
}

/* Hand a complete frame to fn and reset for the next header. */
static int deliver(rs_frame_decoder *d, rs_frame_fn fn, void *user)
{
    uint8_t *body = d->body;

    d->body = NULL;
    d->head_have = 0;
    if (fn(user, d->type, d->flags, body, d->body_len) != 0) {
        if (d->error[0] == '\0')
            snprintf(d->error, sizeof(d->error),
                     "frame of type 0x%04x rejected", d->type);
        return -1;
    }
    return 0;
}

int rs_frame_decoder_feed(rs_frame_decoder *d, const uint8_t *data, size_t len,
                          rs_frame_fn fn, void *user)
{
    size_t pos = 0;

    while (pos < len || (d->body && d->body_have == d->body_len)) {
        if (d->body == NULL) {
            size_t take = sizeof(d->head) - d->head_have;

            if (take > len - pos)
                take = len - pos;
            memcpy(d->head + d->head_have, data + pos, take);
            d->head_have += take;
            pos += take;
            if (d->head_have < sizeof(d->head))
                break;
            if (start_body(d) != 0)
                return -1;
        }
        else {
            size_t take = d->body_len - d->body_have;

            if (take > len - pos)
                take = len - pos;
            memcpy(d->body + d->body_have, data + pos, take);
            d->body_have += (uint32_t)take;
            pos += take;
        }
        if (d->body && d->body_have == d->body_len && deliver(d, fn, user) != 0)
            return -1;
    }
    return 0;
}
