/* Apiary's bridge to the gRPC core C API.
 *
 * Swift cannot import function-like macros or write into the grpc_op union
 * comfortably, so this header has small static inline helpers: op builders, slice
 * accessors, metadata arrays owned by the caller, byte buffers from and to
 * contiguous bytes, deadlines, and channel arguments. Everything else is called
 * directly from Swift.
 */
#ifndef APIARY_CGRPC_CORE_SHIM_H
#define APIARY_CGRPC_CORE_SHIM_H

/* The C library's headers first, so their declarations come from the Glibc module before
 * gRPC's port_platform.h changes feature macros (which would give fd_set other field names). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

/* ---- credentials (declared with "()" in the headers) ---- */

static inline grpc_channel_credentials *cgrpc_insecure_channel_credentials(void) {
  return grpc_insecure_credentials_create();
}
static inline grpc_server_credentials *cgrpc_insecure_server_credentials(void) {
  return grpc_insecure_server_credentials_create();
}

/* poll(2)'s "the peer closed its end" event (Linux; needs _GNU_SOURCE in <poll.h>). */
static const short cgrpc_pollrdhup = 0x2000;

/* Linux calls that <sys/socket.h> and <unistd.h> declare only under _GNU_SOURCE, which
 * the Glibc module is not built with: declared here as glibc defines them, so a
 * descriptor is close-on-exec from its first instant (apiary starts child processes). */
struct sockaddr;
extern int accept4(int fd, struct sockaddr *address, unsigned int *length, int flags);
extern int pipe2(int fds[2], int flags);

static inline int cgrpc_accept_cloexec_nonblock(int fd) {
  return accept4(fd, 0, 0, 02000000 /* SOCK_CLOEXEC */ | 04000 /* SOCK_NONBLOCK */);
}
static inline int cgrpc_pipe_cloexec_nonblock(int fds[2]) {
  return pipe2(fds, 02000000 /* O_CLOEXEC */ | 04000 /* O_NONBLOCK */);
}

/* ---- slices ---- */

static inline const uint8_t *cgrpc_slice_start(const grpc_slice *s) { return GRPC_SLICE_START_PTR(*s); }
static inline size_t cgrpc_slice_length(const grpc_slice *s) { return GRPC_SLICE_LENGTH(*s); }
static inline grpc_slice cgrpc_slice_copy(const void *bytes, size_t length) {
  return grpc_slice_from_copied_buffer((const char *)bytes, length);
}

static inline uint32_t cgrpc_propagate_defaults(void) { return GRPC_PROPAGATE_DEFAULTS; }
static inline uint32_t cgrpc_wait_for_ready_flag(void) { return GRPC_INITIAL_METADATA_WAIT_FOR_READY; }

/* ---- deadlines ---- */

static inline gpr_timespec cgrpc_deadline_in_nanos(int64_t nanos) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(nanos, GPR_TIMESPAN));
}
static inline gpr_timespec cgrpc_infinite_future(void) { return gpr_inf_future(GPR_CLOCK_REALTIME); }
static inline gpr_timespec cgrpc_infinite_past(void) { return gpr_inf_past(GPR_CLOCK_REALTIME); }
/* Nanoseconds from now until `deadline`, or -1 when it is infinite. Never below 0 otherwise. */
static inline int64_t cgrpc_nanos_until(gpr_timespec deadline) {
  if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0) return -1;
  gpr_timespec left = gpr_time_sub(gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC),
                                   gpr_now(GPR_CLOCK_MONOTONIC));
  if (left.tv_sec < 0) return 0;
  return (int64_t)left.tv_sec * 1000000000 + left.tv_nsec;
}

/* ---- byte buffers ---- */

static inline grpc_byte_buffer *cgrpc_byte_buffer_from(const void *bytes, size_t length) {
  grpc_slice slice = grpc_slice_from_copied_buffer((const char *)bytes, length);
  grpc_byte_buffer *buffer = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
  return buffer;
}
/* Copies every slice of `buffer` (decompressed) into `destination`, which has room for
 * grpc_byte_buffer_length(buffer) bytes. Returns the number of bytes copied, or -1. */
static inline long cgrpc_byte_buffer_copy(grpc_byte_buffer *buffer, uint8_t *destination, size_t capacity) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, buffer)) return -1;
  size_t offset = 0;
  grpc_slice slice;
  while (grpc_byte_buffer_reader_next(&reader, &slice)) {
    size_t length = GRPC_SLICE_LENGTH(slice);
    if (offset + length > capacity) { grpc_slice_unref(slice); grpc_byte_buffer_reader_destroy(&reader); return -1; }
    memcpy(destination + offset, GRPC_SLICE_START_PTR(slice), length);
    offset += length;
    grpc_slice_unref(slice);
  }
  grpc_byte_buffer_reader_destroy(&reader);
  return (long)offset;
}

/* ---- metadata we send: an array of `count` entries, keys and values copied ---- */

static inline grpc_metadata *cgrpc_metadata_create(size_t count) {
  return (grpc_metadata *)calloc(count == 0 ? 1 : count, sizeof(grpc_metadata));
}
static inline void cgrpc_metadata_set(grpc_metadata *array, size_t index, const void *key, size_t keyLength,
                                      const void *value, size_t valueLength) {
  array[index].key = grpc_slice_from_copied_buffer((const char *)key, keyLength);
  array[index].value = grpc_slice_from_copied_buffer((const char *)value, valueLength);
}
static inline void cgrpc_metadata_destroy(grpc_metadata *array, size_t count) {
  if (array == NULL) return;
  for (size_t i = 0; i < count; i++) {
    grpc_slice_unref(array[i].key);
    grpc_slice_unref(array[i].value);
  }
  free(array);
}
static inline int cgrpc_header_key_is_legal(const void *key, size_t length) {
  grpc_slice slice = grpc_slice_from_static_buffer(key, length);
  return grpc_header_key_is_legal(slice);
}
static inline int cgrpc_header_value_is_legal(const void *value, size_t length) {
  grpc_slice slice = grpc_slice_from_static_buffer(value, length);
  return grpc_header_nonbin_value_is_legal(slice);
}

/* ---- metadata we receive ---- */

static inline grpc_metadata_array *cgrpc_metadata_array_create(void) {
  grpc_metadata_array *array = (grpc_metadata_array *)malloc(sizeof(grpc_metadata_array));
  grpc_metadata_array_init(array);
  return array;
}
static inline void cgrpc_metadata_array_free(grpc_metadata_array *array) {
  grpc_metadata_array_destroy(array);
  free(array);
}
static inline size_t cgrpc_metadata_array_count(const grpc_metadata_array *array) { return array->count; }
static inline const grpc_metadata *cgrpc_metadata_array_at(const grpc_metadata_array *array, size_t index) {
  return &array->metadata[index];
}

/* ---- ops ---- */

static inline grpc_op cgrpc_op_send_initial_metadata(grpc_metadata *metadata, size_t count, uint32_t flags) {
  grpc_op op; memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_INITIAL_METADATA;
  op.flags = flags;
  op.data.send_initial_metadata.count = count;
  op.data.send_initial_metadata.metadata = metadata;
  return op;
}
static inline grpc_op cgrpc_op_send_message(grpc_byte_buffer *message, uint32_t flags) {
  grpc_op op; memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_MESSAGE;
  op.flags = flags;
  op.data.send_message.send_message = message;
  return op;
}
static inline grpc_op cgrpc_op_send_close_from_client(void) {
  grpc_op op; memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  return op;
}
static inline grpc_op cgrpc_op_send_status_from_server(grpc_status_code code, grpc_slice *details,
                                                       grpc_metadata *trailers, size_t count) {
  grpc_op op; memset(&op, 0, sizeof op);
  op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  op.data.send_status_from_server.status = code;
  op.data.send_status_from_server.status_details = details;
  op.data.send_status_from_server.trailing_metadata = trailers;
  op.data.send_status_from_server.trailing_metadata_count = count;
  return op;
}
static inline grpc_op cgrpc_op_recv_initial_metadata(grpc_metadata_array *into) {
  grpc_op op; memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_INITIAL_METADATA;
  op.data.recv_initial_metadata.recv_initial_metadata = into;
  return op;
}
static inline grpc_op cgrpc_op_recv_message(grpc_byte_buffer **into) {
  grpc_op op; memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = into;
  return op;
}

/* The client's status: where core writes it, owned by the caller. */
typedef struct {
  grpc_metadata_array trailers;
  grpc_status_code code;
  grpc_slice details;
  const char *error_string;
} cgrpc_client_status;

static inline cgrpc_client_status *cgrpc_client_status_create(void) {
  cgrpc_client_status *status = (cgrpc_client_status *)calloc(1, sizeof(cgrpc_client_status));
  grpc_metadata_array_init(&status->trailers);
  status->details = grpc_empty_slice();
  return status;
}
static inline void cgrpc_client_status_free(cgrpc_client_status *status) {
  grpc_metadata_array_destroy(&status->trailers);
  grpc_slice_unref(status->details);
  if (status->error_string) gpr_free((void *)status->error_string);
  free(status);
}
static inline grpc_op cgrpc_op_recv_status_on_client(cgrpc_client_status *status) {
  grpc_op op; memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op.data.recv_status_on_client.trailing_metadata = &status->trailers;
  op.data.recv_status_on_client.status = &status->code;
  op.data.recv_status_on_client.status_details = &status->details;
  op.data.recv_status_on_client.error_string = &status->error_string;
  return op;
}
static inline grpc_op cgrpc_op_recv_close_on_server(int *cancelled) {
  grpc_op op; memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = cancelled;
  return op;
}

/* ---- a server's accepted call: where grpc_server_request_call writes ---- */

typedef struct {
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array metadata;
} cgrpc_accepted_call;

static inline cgrpc_accepted_call *cgrpc_accepted_call_create(void) {
  cgrpc_accepted_call *accepted = (cgrpc_accepted_call *)calloc(1, sizeof(cgrpc_accepted_call));
  grpc_call_details_init(&accepted->details);
  grpc_metadata_array_init(&accepted->metadata);
  return accepted;
}
static inline void cgrpc_accepted_call_free(cgrpc_accepted_call *accepted) {
  grpc_call_details_destroy(&accepted->details);
  grpc_metadata_array_destroy(&accepted->metadata);
  free(accepted);
}
static inline grpc_call_error cgrpc_server_request_call(grpc_server *server, cgrpc_accepted_call *accepted,
                                                        grpc_completion_queue *queue, void *tag) {
  return grpc_server_request_call(server, &accepted->call, &accepted->details, &accepted->metadata,
                                  queue, queue, tag);
}

/* ---- channel arguments: up to 16 integer or string arguments ---- */

typedef struct {
  grpc_arg arguments[16];
  char *keys[16];
  char *strings[16];
  grpc_channel_args args;
} cgrpc_channel_args;

static inline cgrpc_channel_args *cgrpc_channel_args_create(void) {
  cgrpc_channel_args *args = (cgrpc_channel_args *)calloc(1, sizeof(cgrpc_channel_args));
  args->args.args = args->arguments;
  return args;
}
static inline void cgrpc_channel_args_add_integer(cgrpc_channel_args *args, const char *key, int value) {
  if (args->args.num_args >= 16) return;
  size_t i = args->args.num_args++;
  args->keys[i] = strdup(key);
  args->arguments[i].type = GRPC_ARG_INTEGER;
  args->arguments[i].key = args->keys[i];
  args->arguments[i].value.integer = value;
}
static inline void cgrpc_channel_args_add_string(cgrpc_channel_args *args, const char *key, const char *value) {
  if (args->args.num_args >= 16) return;
  size_t i = args->args.num_args++;
  args->keys[i] = strdup(key);
  args->strings[i] = strdup(value);
  args->arguments[i].type = GRPC_ARG_STRING;
  args->arguments[i].key = args->keys[i];
  args->arguments[i].value.string = args->strings[i];
}
static inline const grpc_channel_args *cgrpc_channel_args_get(const cgrpc_channel_args *args) { return &args->args; }
static inline void cgrpc_channel_args_free(cgrpc_channel_args *args) {
  for (size_t i = 0; i < args->args.num_args; i++) { free(args->keys[i]); free(args->strings[i]); }
  free(args);
}

#endif
