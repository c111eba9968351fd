// setTcpUserTimeout(fd: number, ms: number): void
//
// TCP_USER_TIMEOUT (tcp(7)): how long bytes the socket sent may stay
// unacknowledged before the kernel closes the connection with ETIMEDOUT.
// Keepalive probes a connection only while nothing is in flight; a peer whose
// node went away while a write was in flight would otherwise be retried for
// ~15 minutes (tcp_retries2). Node has no API for it. Throws an Error whose
// `code` is the errno name.
#include "tcp_user_timeout.h"

#include "napi_util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace weft {

napi_value SetTcpUserTimeout(napi_env env, napi_callback_info info) {
  int32_t fd = -1;
  int32_t ms = 0;
  if (!TwoInts(env, info, "setTcpUserTimeout(fd, ms)", &fd, &ms)) return nullptr;
  if (fd < 0) return ThrowErrno(env, EBADF, "setTcpUserTimeout");
  if (ms < 0) return ThrowErrno(env, EINVAL, "setTcpUserTimeout: ms must not be negative");
  unsigned int value = static_cast<unsigned int>(ms);
  if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &value, sizeof value) != 0) return ThrowErrno(env, errno, "setsockopt(TCP_USER_TIMEOUT)");
  return nullptr;
}

}  // namespace weft
