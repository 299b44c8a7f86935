/*
 * codec.c - message type table: names, protobuf-c descriptors, encoding.
 */
#include <stdlib.h>

#include "restate/internal.h"

int rs_msg_is_command(uint16_t type)
{
    return (type >= 0x0400 && type <= 0x7FFF) || type >= 0xFC00;
}

int rs_msg_is_notification(uint16_t type)
{
    return type >= 0x8000 && type <= 0xFBFF;
}

struct msg_entry {
    uint16_t type;
    const char *name;
    const ProtobufCMessageDescriptor *desc;
};

static const struct msg_entry msg_table[] = {
    {RS_MSG_START, "Start", &restate__start_message__descriptor},
    {RS_MSG_SUSPENSION, "Suspension", &restate__suspension_message__descriptor},
    {RS_MSG_ERROR, "Error", &restate__error_message__descriptor},
    {RS_MSG_END, "End", &restate__end_message__descriptor},
    {RS_MSG_COMMAND_ACK, "CommandAck",
     &restate__command_ack_message__descriptor},
    {RS_MSG_PROPOSE_RUN, "ProposeRunCompletion",
     &restate__propose_run_completion_message__descriptor},
    {RS_MSG_INPUT, "InputCommand", &restate__input_command_message__descriptor},
    {RS_MSG_OUTPUT, "OutputCommand",
     &restate__output_command_message__descriptor},
    {RS_MSG_GET_LAZY_STATE, "GetLazyStateCommand",
     &restate__get_lazy_state_command_message__descriptor},
    {RS_MSG_SET_STATE, "SetStateCommand",
     &restate__set_state_command_message__descriptor},
    {RS_MSG_CLEAR_STATE, "ClearStateCommand",
     &restate__clear_state_command_message__descriptor},
    {RS_MSG_CLEAR_ALL_STATE, "ClearAllStateCommand",
     &restate__clear_all_state_command_message__descriptor},
    {RS_MSG_GET_EAGER_STATE, "GetEagerStateCommand",
     &restate__get_eager_state_command_message__descriptor},
    {RS_MSG_CALL, "CallCommand", &restate__call_command_message__descriptor},
    {RS_MSG_ONE_WAY_CALL, "OneWayCallCommand",
     &restate__one_way_call_command_message__descriptor},
    {RS_MSG_RUN, "RunCommand", &restate__run_command_message__descriptor},
    {RS_MSG_GET_LAZY_STATE_DONE, "GetLazyStateCompletionNotification",
     &restate__notification_template__descriptor},
    {RS_MSG_CALL_DONE, "CallCompletionNotification",
     &restate__notification_template__descriptor},
    {RS_MSG_CALL_INVOCATION_ID, "CallInvocationIdCompletionNotification",
     &restate__notification_template__descriptor},
    {RS_MSG_RUN_DONE, "RunCompletionNotification",
     &restate__notification_template__descriptor},
    {RS_MSG_SIGNAL, "SignalNotification",
     &restate__notification_template__descriptor},
};

static const struct msg_entry *lookup(uint16_t type)
{
    size_t i;

    for (i = 0; i < sizeof(msg_table) / sizeof(msg_table[0]); i++)
        if (msg_table[i].type == type)
            return &msg_table[i];
    return NULL;
}

const char *rs_msg_name(uint16_t type)
{
    const struct msg_entry *e = lookup(type);

    if (e != NULL)
        return e->name;
    if (rs_msg_is_notification(type))
        return "Notification";
    if (rs_msg_is_command(type))
        return "Command";
    return "unknown";
}

const ProtobufCMessageDescriptor *rs_msg_descriptor(uint16_t type)
{
    const struct msg_entry *e = lookup(type);

    if (e != NULL)
        return e->desc;
    if (rs_msg_is_notification(type))
        return &restate__notification_template__descriptor;
    return NULL;
}

uint8_t *rs_frame_encode(uint16_t type, const ProtobufCMessage *m, size_t *len)
{
    size_t size = protobuf_c_message_get_packed_size(m);
    uint8_t *buf;

    if (size > UINT32_MAX)
        return NULL;
    buf = malloc(size + 8);
    if (buf == NULL)
        return NULL;
    rs_frame_header_put(buf, type, 0, (uint32_t)size);
    protobuf_c_message_pack(m, buf + 8);
    *len = size + 8;
    return buf;
}
