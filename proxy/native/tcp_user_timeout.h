#ifndef WEFT_TCP_USER_TIMEOUT_H_
#define WEFT_TCP_USER_TIMEOUT_H_

#include <node_api.h>

namespace weft {

// See tcp_user_timeout.cc.
napi_value SetTcpUserTimeout(napi_env env, napi_callback_info info);
napi_value TcpTimers(napi_env env, napi_callback_info info);

}  // namespace weft

#endif  // WEFT_TCP_USER_TIMEOUT_H_
