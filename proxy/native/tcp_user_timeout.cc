// setTcpUserTimeout(fd: number, ms: number): void
//
// TCP_USER_TIMEOUT (tcp(7)): how long bytes the socket sent may stay
// unacknowledged before the kernel closes the connection with ETIMEDOUT.
// Keepalive probes a connection only while nothing is in flight; a peer whose
// node went away while a write was in flight would otherwise be retried for
// ~15 minutes (tcp_retries2). Node has no API for it. Throws an Error whose
// `code` is the errno name.
#include "tcp_user_timeout.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

namespace weft {

napi_value SetTcpUserTimeout(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t fd = -1;
  uint32_t ms = 0;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_uint32(env, argv[1], &ms) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "setTcpUserTimeout(fd, ms) takes two integers");
    return nullptr;
  }
  unsigned int value = ms;
  if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &value, sizeof value) != 0) {
    int err = fd < 0 ? EBADF : errno;
    char message[128];
    snprintf(message, sizeof message, "setsockopt(TCP_USER_TIMEOUT): %s", strerror(err));
    napi_throw_error(env, err == EBADF ? "EBADF" : "ESETSOCKOPT", message);
    return nullptr;
  }
  return nullptr;
}

}  // namespace weft
