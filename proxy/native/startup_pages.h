#ifndef WEFT_STARTUP_PAGES_H_
#define WEFT_STARTUP_PAGES_H_

#include <node_api.h>

namespace weft {

// See startup_pages.cc.
napi_value ReleaseExecutablePages(napi_env env, napi_callback_info info);

}  // namespace weft

#endif  // WEFT_STARTUP_PAGES_H_
