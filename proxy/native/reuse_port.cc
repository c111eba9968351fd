// listenReusePort(host: string, port: number, backlog: number): number
//
// A listening TCP socket with SO_REUSEPORT (socket(7)), returned as its fd for
// `net.Server.listen({ fd })`. Each of the proxy's worker threads listens on
// its own such socket for the same address and port, and the kernel spreads
// the incoming connections over them (by a hash of the 4-tuple), so no thread
// accepts for another and no accepted socket crosses threads. Node 20 has no
// `reusePort` option. `host` is a numeric IPv4 or IPv6 address; port 0 binds
// an ephemeral port (the other threads then bind the port it got). The fd is
// non-blocking and close-on-exec. Throws an Error whose `code` is the errno
// name.
#include "reuse_port.h"

#include "napi_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weft {

napi_value ListenReusePort(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char host[64];
  size_t hostLen = 0;
  int32_t port = -1;
  int32_t backlog = 0;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hostLen) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || napi_get_value_int32(env, argv[2], &backlog) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "listenReusePort(host, port, backlog) takes an address string and two integers");
    return nullptr;
  }
  if (port < 0 || port > 65535 || backlog < 1) return ThrowErrno(env, EINVAL, "listenReusePort: port must be 0-65535 and backlog positive");

  struct sockaddr_storage addr;
  memset(&addr, 0, sizeof addr);
  socklen_t addrLen = 0;
  int family = AF_INET;
  struct sockaddr_in* v4 = reinterpret_cast<struct sockaddr_in*>(&addr);
  struct sockaddr_in6* v6 = reinterpret_cast<struct sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    addrLen = sizeof *v4;
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    addrLen = sizeof *v6;
  } else {
    return ThrowErrno(env, EINVAL, "listenReusePort: host must be a numeric IPv4 or IPv6 address");
  }

  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, errno, "socket");
  const int on = 1;
  const char* failed = nullptr;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) failed = "setsockopt(SO_REUSEADDR)";
  else if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) failed = "setsockopt(SO_REUSEPORT)";
  else if (bind(fd, reinterpret_cast<struct sockaddr*>(&addr), addrLen) != 0) failed = "bind";
  else if (listen(fd, backlog) != 0) failed = "listen";
  if (failed != nullptr) {
    const int err = errno;
    close(fd);
    return ThrowErrno(env, err, failed);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

}  // namespace weft
