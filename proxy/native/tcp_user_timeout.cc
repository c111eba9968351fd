// setTcpUserTimeout(fd: number, ms: number): void
// tcpTimers(fd: number): { userTimeoutMs, keepAlive, keepIdleS, keepIntvlS, keepCnt }
//
// TCP_USER_TIMEOUT (tcp(7)): how long bytes the socket sent may stay
// unacknowledged before the kernel closes the connection with ETIMEDOUT.
// Keepalive probes a connection only while nothing is in flight; a peer whose
// node went away while a write was in flight would otherwise be retried for
// ~15 minutes (tcp_retries2). Node has no API for it. tcpTimers reads it back with
// the keepalive options Node sets (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT), so a
// test can see what a socket of the proxy's really has. Both throw an Error
// whose `code` is the errno name.
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

namespace {

bool ReadInt(napi_env env, int fd, int level, int option, const char* what, int* value) {
  socklen_t len = sizeof *value;
  if (getsockopt(fd, level, option, value, &len) == 0) return true;
  ThrowErrno(env, errno, what);
  return false;
}

void Set(napi_env env, napi_value obj, const char* name, int value) {
  napi_value v;
  napi_create_int32(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

}  // namespace

napi_value TcpTimers(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "tcpTimers(fd) takes an integer");
    return nullptr;
  }
  if (fd < 0) return ThrowErrno(env, EBADF, "tcpTimers");
  int userTimeout = 0, keepAlive = 0, idle = 0, interval = 0, count = 0;
  if (!ReadInt(env, fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "getsockopt(TCP_USER_TIMEOUT)", &userTimeout) ||
      !ReadInt(env, fd, SOL_SOCKET, SO_KEEPALIVE, "getsockopt(SO_KEEPALIVE)", &keepAlive) ||
      !ReadInt(env, fd, IPPROTO_TCP, TCP_KEEPIDLE, "getsockopt(TCP_KEEPIDLE)", &idle) ||
      !ReadInt(env, fd, IPPROTO_TCP, TCP_KEEPINTVL, "getsockopt(TCP_KEEPINTVL)", &interval) ||
      !ReadInt(env, fd, IPPROTO_TCP, TCP_KEEPCNT, "getsockopt(TCP_KEEPCNT)", &count)) {
    return nullptr;
  }
  napi_value obj;
  napi_create_object(env, &obj);
  Set(env, obj, "userTimeoutMs", userTimeout);
  Set(env, obj, "keepAlive", keepAlive != 0 ? 1 : 0);
  Set(env, obj, "keepIdleS", idle);
  Set(env, obj, "keepIntvlS", interval);
  Set(env, obj, "keepCnt", count);
  return obj;
}

}  // namespace weft
