#ifndef WEFT_NAPI_UTIL_H_
#define WEFT_NAPI_UTIL_H_

#include <node_api.h>

#include <cstdint>

namespace weft {

// Throws an Error whose `code` is the errno name (EIO for one not listed),
// whose message is "<what>: <strerror>" and whose `errno` is the number.
// Returns nullptr, for `return ThrowErrno(...)`.
napi_value ThrowErrno(napi_env env, int err, const char* what);

// Reads the call's first two arguments as 32-bit integers. On a missing or
// non-integer argument it throws a TypeError "<usage> takes two integers"
// (code EINVAL) and returns false.
bool TwoInts(napi_env env, napi_callback_info info, const char* usage, int32_t* first, int32_t* second);

}  // namespace weft

#endif  // WEFT_NAPI_UTIL_H_
