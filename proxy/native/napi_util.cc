// Helpers the addon's functions share: errors named by errno, and argument
// parsing.
#include "napi_util.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace weft {

namespace {

const char* ErrnoName(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    default: return "EIO";
  }
}

}  // namespace

napi_value ThrowErrno(napi_env env, int err, const char* what) {
  napi_value code;
  napi_value message;
  napi_value error;
  napi_value errnoValue;
  char text[160];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, ErrnoName(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errnoValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_throw(env, error);
  return nullptr;
}

bool TwoInts(napi_env env, napi_callback_info info, const char* usage, int32_t* first, int32_t* second) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc >= 2 && napi_get_value_int32(env, argv[0], first) == napi_ok && napi_get_value_int32(env, argv[1], second) == napi_ok) {
    return true;
  }
  char text[160];
  snprintf(text, sizeof text, "%s takes two integers", usage);
  napi_throw_type_error(env, "EINVAL", text);
  return false;
}

}  // namespace weft
