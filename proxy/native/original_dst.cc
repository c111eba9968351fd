// weft_original_dst, the proxy's native addon (it also holds
// releaseExecutablePages, startup_pages.cc, setTcpUserTimeout and tcpTimers,
// tcp_user_timeout.cc, and listenReusePort, reuse_port.cc).
//
// getOriginalDst: the destination a connection had before iptables REDIRECT
// rewrote it, read from conntrack with getsockopt(SO_ORIGINAL_DST) for IPv4 and
// getsockopt(IP6T_SO_ORIGINAL_DST) for IPv6. Node has no API for this and the
// option returns a sockaddr, not an integer, hence a native addon.
//
// Plain Node-API (C ABI), so the binary does not depend on V8's C++ API and
// keeps working across Node patch releases.
#include <node_api.h>

#include "napi_util.h"
#include "startup_pages.h"
#include "reuse_port.h"
#include "tcp_user_timeout.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>

// <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h> define these,
// but the IPv6 header drags in kernel headers that clash with libc's.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

namespace {

napi_value Result(napi_env env, const char* address, int port) {
  napi_value obj;
  napi_value addr;
  napi_value portValue;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &addr);
  napi_create_int32(env, port, &portValue);
  napi_set_named_property(env, obj, "address", addr);
  napi_set_named_property(env, obj, "port", portValue);
  return obj;
}

// getOriginalDst(fd: number, family: 4 | 6): { address: string, port: number }
// Throws an Error whose `code` is the errno name (ENOENT: no NAT entry, i.e.
// the connection was not redirected).
napi_value GetOriginalDst(napi_env env, napi_callback_info info) {
  int32_t fd = -1;
  int32_t family = 0;
  if (!weft::TwoInts(env, info, "getOriginalDst(fd, family)", &fd, &family)) return nullptr;
  if (fd < 0) return weft::ThrowErrno(env, EBADF, "getOriginalDst");
  char text[INET6_ADDRSTRLEN];
  if (family == 4) {
    struct sockaddr_in dst;
    socklen_t len = sizeof dst;
    memset(&dst, 0, sizeof dst);
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0) return weft::ThrowErrno(env, errno, "getsockopt(SO_ORIGINAL_DST)");
    if (inet_ntop(AF_INET, &dst.sin_addr, text, sizeof text) == nullptr) return weft::ThrowErrno(env, errno, "inet_ntop");
    return Result(env, text, ntohs(dst.sin_port));
  }
  if (family == 6) {
    struct sockaddr_in6 dst;
    socklen_t len = sizeof dst;
    memset(&dst, 0, sizeof dst);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &len) != 0) return weft::ThrowErrno(env, errno, "getsockopt(IP6T_SO_ORIGINAL_DST)");
    if (inet_ntop(AF_INET6, &dst.sin6_addr, text, sizeof text) == nullptr) return weft::ThrowErrno(env, errno, "inet_ntop");
    return Result(env, text, ntohs(dst.sin6_port));
  }
  napi_throw_range_error(env, "EINVAL", "family must be 4 or 6");
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "getOriginalDst", NAPI_AUTO_LENGTH, GetOriginalDst, nullptr, &fn);
  napi_set_named_property(env, exports, "getOriginalDst", fn);
  napi_create_function(env, "releaseExecutablePages", NAPI_AUTO_LENGTH, weft::ReleaseExecutablePages, nullptr, &fn);
  napi_set_named_property(env, exports, "releaseExecutablePages", fn);
  napi_create_function(env, "setTcpUserTimeout", NAPI_AUTO_LENGTH, weft::SetTcpUserTimeout, nullptr, &fn);
  napi_set_named_property(env, exports, "setTcpUserTimeout", fn);
  napi_create_function(env, "tcpTimers", NAPI_AUTO_LENGTH, weft::TcpTimers, nullptr, &fn);
  napi_set_named_property(env, exports, "tcpTimers", fn);
  napi_create_function(env, "listenReusePort", NAPI_AUTO_LENGTH, weft::ListenReusePort, nullptr, &fn);
  napi_set_named_property(env, exports, "listenReusePort", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
