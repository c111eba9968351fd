#ifndef WEFT_REUSE_PORT_H_
#define WEFT_REUSE_PORT_H_

#include <node_api.h>

namespace weft {

// See reuse_port.cc.
napi_value ListenReusePort(napi_env env, napi_callback_info info);

}  // namespace weft

#endif  // WEFT_REUSE_PORT_H_
